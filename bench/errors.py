"""Errors a user can act on.  The CLI prints them as one line, without a traceback."""


class BenchError(Exception):
    """A problem with the user's input or machine: bad config, missing file, missing encoder."""


class CodecUnavailable(BenchError):
    """The codec's encoder/decoder is not installed or not configured on this machine."""
