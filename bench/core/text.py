"""Tables as text: aligned columns for the terminal, pipe tables for Markdown (one home for both)."""

from __future__ import annotations

import math
from typing import Sequence


def align(cells: Sequence[Sequence]) -> list[str]:
    """Rows of cells -> lines with every column padded to its widest cell."""
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]


def fmt_cell(v, digits: int = 4) -> str:
    """Floats with `digits` decimals, non-finite as n/a, anything else as str()."""
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        f = float(v)
        return "n/a" if not math.isfinite(f) else f"{f:.{digits}f}"
    return str(v)


def fmt_point(p) -> str:
    """A rate point as people write it: 3.0 -> '3', 3.7 -> '3.7', anything not numeric as str()."""
    try:
        f = float(p)
        return str(int(f)) if f.is_integer() else f"{f:g}"
    except (TypeError, ValueError):
        return str(p)


def md_table(header: Sequence, rows: Sequence[Sequence], digits: int | None = None) -> str:
    """A Markdown pipe table; '|' and newlines inside cells are escaped.  digits: format floats."""
    def cell(v):
        text = fmt_cell(v, digits) if digits is not None else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)
