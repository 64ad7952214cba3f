"""Errors a user can act on.  The command layer prints them as one line without a traceback and
exits 2 (`bench.cli.common`); a check that ran and found a regression exits 1 instead."""


class BenchError(Exception):
    """A problem with the user's input or machine: bad config, missing file, missing encoder."""


class CodecUnavailable(BenchError):
    """The codec's encoder/decoder is not installed or not configured on this machine."""


class CheckFailed(Exception):
    """A check ran to the end and found what it guards against (a regression, failed units): exit 1."""
