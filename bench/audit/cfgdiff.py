"""The shipped HM/VTM cfg against the public file of the user's own checkout, option by option.

The cfg files in codecs/ were compared with the public files of the versions that could be read when
they were written; a user with a checkout has the file of *their* version.  This module finds it
(`<BENCH_VTM_DIR>/cfg/encoder_intra_vtm.cfg`, or a `cfg/` folder above the encoder binary) and lists
every option whose value differs, that only one file sets, and whether the shipped file's header
names it (a documented deviation) or not (something to look at).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from bench.codecs.reference_software import VTM

PUBLIC_NAME = {"vtm": "encoder_intra_vtm.cfg", "hm": "encoder_intra_main_rext.cfg"}


def parse_cfg(text: str) -> dict[str, str]:
    """`Key : Value  # comment` lines -> {Key: Value} (values with runs of spaces collapsed); a later
    line wins, as in HM/VTM."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = " ".join(v.split())
    return out


def header_comments(text: str) -> str:
    """The comment block a cfg starts with (where its deviations are listed)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#") and not line.startswith("#===="):
            lines.append(line)
        elif line.strip():
            break
    return "\n".join(lines)


def _same(a: str, b: str) -> bool:
    ta, tb = a.split(), b.split()
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb):
        if x == y:
            continue
        try:
            if float(x) != float(y):
                return False
        except ValueError:
            return False
    return True


@dataclass
class CfgDiff:
    ours: Path
    public: Path
    rows: list[tuple[str, str, str, bool]]  # (option, ours, public, named in our header)

    @property
    def undocumented(self) -> list[str]:
        return [r[0] for r in self.rows if not r[3]]


def diff(ours: Path, public: Path) -> CfgDiff:
    text = ours.read_text()
    a, b = parse_cfg(text), parse_cfg(public.read_text())
    header = header_comments(text)
    rows = []
    for key in sorted(set(a) | set(b), key=str.lower):
        va, vb = a.get(key), b.get(key)
        if va is not None and vb is not None and _same(va, vb):
            continue
        named = re.search(rf"\b{re.escape(key)}\b", header) is not None
        rows.append((key, "(not set)" if va is None else va, "(not set)" if vb is None else vb, named))
    return CfgDiff(ours, public, rows)


def find_public_cfg(adapter) -> Path | None:
    """The public cfg of the user's checkout: <ENV>_DIR/cfg/<name>, else a cfg/ folder above the encoder."""
    tool = "vtm" if isinstance(adapter, VTM) else "hm"
    name = PUBLIC_NAME[tool]
    candidates = []
    folder = os.environ.get(f"{adapter.env}_DIR")
    if folder:
        candidates.append(Path(os.path.expanduser(folder)) / "cfg" / name)
    try:
        enc = Path(os.path.realpath(adapter.binaries()[0]))
    except Exception:
        enc = None
    if enc is not None:
        candidates += [parent / "cfg" / name for parent in list(enc.parents)[:7]]
    for c in candidates:
        if c.is_file():
            return c
    return None
