"""What every command shares: one error style, and Hydra composition of the packaged configs."""

from __future__ import annotations

import errno
import functools
import sys
from typing import Sequence

from bench.core.errors import BenchError, CheckFailed

_USER_OS_ERRORS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}


def user_errors(fn=None, *, exit: bool = False):
    """Run a command: a BenchError, or a file system refusal (read-only, permission, disk full), becomes one
    `error: ...` line on stderr and status 2; a check that
    failed (CheckFailed) gives 1 after its own report; Ctrl-C gives 130 with one line.  The status is
    returned (argparse commands: `main(argv) -> int`), or, with exit=True, the process exits with it
    (inside Hydra, whose task functions' return values do not reach the shell)."""
    if fn is None:
        return functools.partial(user_errors, exit=exit)

    def done(code: int):
        if exit:
            sys.exit(code)
        return code

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return done(2)
        except OSError as exc:
            if exc.errno not in _USER_OS_ERRORS:
                raise
            # a file or folder that cannot be written or read (read-only, full, someone else's): the user's to fix
            print(f"error: {exc.filename or 'a file'}: {exc.strerror or exc}", file=sys.stderr)
            return done(2)
        except CheckFailed as exc:
            if str(exc):
                print(f"FAIL: {exc}", file=sys.stderr)
            return done(1)
        except KeyboardInterrupt:
            print("interrupted: finished rows are kept; rerun the same command to resume", file=sys.stderr)
            return done(130)

    return wrapper


def require_ok(df, sweep_dir):
    """The rows, or one BenchError line when none is ok (every unit failed): an analysis of them would be
    empty, and saying so beats a KeyError from deep inside it."""
    if df is None or df.empty or "status" not in df:
        raise BenchError(f"{sweep_dir}: no rows")
    if not (df["status"] == "ok").any():
        raise BenchError(f"{sweep_dir}: no ok rows (all {len(df)} failed): nothing to analyse; their reasons are in "
                         "the rows' error column (results.csv)")
    return df


def compose(overrides: Sequence[str] = (), config_name: str = "config", config_dirs: Sequence[str] = ()):
    """The packaged Hydra config with overrides, as `bench` would compose it (tests, perf, library use).
    config_dirs: the user's config folders, searched before the packaged one (like --config-dir)."""
    from hydra import compose as hcompose
    from hydra import initialize_config_dir

    from bench.core.assets import conf_dir

    extra = [f"hydra.searchpath=[{','.join('file://' + str(d) for d in config_dirs)}]"] if config_dirs else []
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hcompose(config_name, overrides=[*extra, *overrides])
