"""Errors a user can act on.  The CLI prints them as one line, without a traceback."""


class BenchError(Exception):
    """A problem with the user's input or machine: bad config, missing file, missing encoder."""


class CodecUnavailable(BenchError):
    """The codec's encoder/decoder is not installed or not configured on this machine."""


def exit_on_user_error(fn):
    """Run `fn`; a BenchError becomes one `error: ...` line on stderr and exit status 2."""
    import functools
    import sys

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    return wrapper
