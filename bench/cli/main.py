"""`bench`: one command with subcommands (git-style).

Why one dispatcher rather than ten `bench-<tool>` scripts: one name on PATH to remember and to find
every tool from (`bench --help`), one place that enforces the error style, and `bench` with no
subcommand keeps running the main job (the default sweep), as the README promised from the start.
Hydra's `key=value` overrides still work directly: `bench codec=jpeg` is `bench sweep codec=jpeg`.
Subcommand modules are imported only when run, so `bench --help` starts without torch, pandas or Hydra.
"""

from __future__ import annotations

import difflib
import importlib
import sys

# name -> (module:function, one line of help).  Hydra commands take key=value overrides.
COMMANDS = {
    "sweep": ("bench.cli.sweep:main", "run a sweep (Hydra overrides key=value, -m for a multirun); the default"),
    "ls": ("bench.cli.ls:main", "list codecs, datasets, metrics, adapters and models, with parameters and defaults"),
    "table": ("bench.cli.table:main", "rebuild a sweep's tables and RD plots from its rows"),
    "bd": ("bench.cli.bd:main", "BD-rate / BD-metric matrix against an anchor, with bootstrap CIs"),
    "report": ("bench.cli.report:main", "write report.md / report.html of a sweep"),
    "perception": ("bench.cli.perception:main", "perception-distortion analysis of a sweep"),
    "published": ("bench.cli.published:main", "show CompressAI result JSON files, or export a sweep as them"),
    "audit": ("bench.cli.audit:main", "anchor audit: a classical codec through bench's path and CompressAI's bench, same binary"),
    "check": ("bench.cli.check:main", "CI regression check of a sweep against a committed baseline (exit 1 on regression)"),
    "train": ("bench.cli.train:main", "train a CompressAI image model (Hydra overrides key=value)"),
    "manifest": ("bench.cli.manifest:main", "write the checksummed manifest of a set of checkpoints"),
    "perf": ("bench.cli.perf:main", "performance benchmarks: sweep overhead, metrics, learned codec vs eval_model"),
}
HYDRA = {"sweep", "train"}


def usage() -> str:
    from bench import __version__

    width = max(map(len, COMMANDS))
    lines = [f"lic-bench {__version__}: rate-distortion benchmarking of learned and classical image codecs",
             "",
             "usage: bench [key=value ...]            the main job: a sweep (same as `bench sweep ...`)",
             "       bench <command> [options]        one of the commands below; `bench <command> --help`",
             "",
             "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["",
              "sweep examples:",
              "  bench                                                  default sweep (bundled photos, offline)",
              "  bench -m dataset=kodak dataset.root=DIR codec=x265_444_10bit,jpeg",
              "  bench --config-dir myconf codec=mycodec                your own conf/codec/mycodec.yaml",
              "  bench sweep --help                                     Hydra's help: config groups and options",
              "",
              "exit status: 0 ok; 1 a check failed or a sweep had failed units; 2 a user error (one line on stderr)"]
    return "\n".join(lines)


def _run(name: str, argv: list[str]) -> int:
    target, _ = COMMANDS[name]
    module, _, func = target.partition(":")
    fn = getattr(importlib.import_module(module), func)
    if name in HYDRA:  # Hydra reads sys.argv itself
        sys.argv = [f"bench {name}", *argv]
        return fn() or 0
    return fn(argv) or 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args and args[0] == "--version":
        from bench import __version__

        print(f"lic-bench {__version__}")
        return 0
    if args and args[0] in COMMANDS:
        return _run(args[0], args[1:])
    first = args[0] if args else ""
    if first and first[0].isalpha() and not any(c in first for c in "=.~+"):
        # a bare word that is no command and no Hydra override: a mistyped command
        close = difflib.get_close_matches(first, list(COMMANDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"error: unknown command {first!r}{hint} (commands: {', '.join(COMMANDS)}; `bench --help`)", file=sys.stderr)
        return 2
    return _run("sweep", args)


def entry() -> None:
    """The console script."""
    try:
        code = main()
    except BrokenPipeError:  # `bench --help | head`
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    entry()
