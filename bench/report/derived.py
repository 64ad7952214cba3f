"""The derived files of a sweep (tables, RD plots, report), rebuilt only when what they are built from
changed: the rows (`RowStore.fingerprint`: names, sizes and times of the row files and shards), the
options (plot metrics, anchor, bootstrap, published files) and the code (lic-bench version and git
revision).  `<sweep>/.derived.json` records what each was last built from; a missing output file is
rebuilt too.  An unchanged sweep therefore reruns without rebuilding anything, and without importing
matplotlib or the report's dependencies at all.

Also where a sweep's loose row files are folded into a Parquet shard (`RowStore.compact`) once there
are enough of them, before the tables are read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from bench import __version__
from bench.core.files import atomic_write_bytes
from bench.core.provenance import git_revision
from bench.results.store import TABLE_FILES, RowStore

STATE = ".derived.json"


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _file_state(path: str) -> str:
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return f"{path}: missing"
    return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


@dataclass
class Rebuilt:
    """What a rebuild wrote (empty lists and dicts for what was up to date)."""

    tables: dict = field(default_factory=dict)
    plots: list = field(default_factory=list)
    report: Path | None = None
    compacted: Path | None = None
    up_to_date: list = field(default_factory=list)  # names of the derived files left as they were


class Derived:
    """The derived files of one sweep folder and what they were built from."""

    def __init__(self, store: RowStore):
        self.store = store
        self.path = store.dir / STATE
        try:
            self.state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.state = {}
        self.rows = store.fingerprint()

    def _key(self, options: dict) -> str:
        return _digest({"rows": self.rows, "bench": __version__, "revision": git_revision(), **options})

    def fresh(self, name: str, options: dict, outputs: Sequence[Path]) -> bool:
        return self.state.get(name) == self._key(options) and all(Path(p).is_file() for p in outputs)

    def mark(self, name: str, options: dict) -> None:
        self.state[name] = self._key(options)
        atomic_write_bytes(self.path, json.dumps(self.state, indent=1, sort_keys=True).encode())


def rebuild(sweep_dir: Path, *, plot_metrics: Sequence[str] = (), report: dict | None = None, force: bool = False,
            compact: bool = True, log: Callable[[str], None] = lambda m: None) -> Rebuilt:
    """Compact the rows when there are enough loose files, then rebuild whichever of the tables, RD
    plots (`plot_metrics`) and report (`report`: write_report's keyword options; None = no report) is
    out of date (`force`: all of them)."""
    store = RowStore(sweep_dir)
    out = Rebuilt()
    if compact:
        out.compacted = store.compact()
        if out.compacted:
            log(f"[bench] rows folded into {out.compacted}")
    derived = Derived(store)
    tables_out = [store.dir / TABLE_FILES[k] for k in ("parquet", "csv", "summary")]
    if force or not derived.fresh("tables", {}, tables_out):
        from bench.results.tables import write_tables

        out.tables = write_tables(store)
        derived.mark("tables", {})
    else:
        out.up_to_date.append("tables")
    plot_metrics = [str(m) for m in plot_metrics]
    if plot_metrics:
        opts = {"metrics": plot_metrics}
        plot_out = [store.dir / f"rd_{m}.png" for m in plot_metrics]
        if force or not derived.fresh("plots", opts, plot_out):
            from bench.report.figures import rd_plot
            from bench.results.tables import frame

            df = frame(store)
            for metric in plot_metrics:
                out.plots += rd_plot(df, metric, store.dir / f"rd_{metric}")
            derived.mark("plots", opts)
        else:
            out.up_to_date.append("plots")
    if report is not None:
        opts = {"report": {k: v for k, v in report.items() if k != "published"},
                "published": [_file_state(str(p)) for p in report.get("published", ())]}
        if force or not derived.fresh("report", opts, [store.dir / "report.md", store.dir / "report.html"]):
            from bench.report.report import write_report

            kw = dict(report)
            out.report = write_report(store.dir, kw.pop("anchor", None), kw.pop("published", ()), **kw)
            derived.mark("report", opts)
        else:
            out.up_to_date.append("report")
    return out
