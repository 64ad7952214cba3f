"""Layer 7: the console commands.  `bench` (`main.py`) dispatches to one module per command, each
with `--help`, one error style (one line and exit 2 for a user error, exit 1 for a failed check)."""
