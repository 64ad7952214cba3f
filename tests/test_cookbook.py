"""README's "Benchmark your own codec", run as written: its files are written into an empty folder
outside the checkout and its commands run there, in order."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.helpers import ROOT

SECTION = "## Benchmark your own codec"


def cookbook() -> list[tuple[str, str]]:
    """(language, text) of every fenced block of the section, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    body = text[start:end if end > 0 else None]
    return [(m[1], m[2]) for m in re.finditer(r"```(\w*)\n(.*?)```", body, flags=re.S)]


def test_the_cookbook_runs_as_written(tmp_path):
    blocks = cookbook()
    files = [(lang, b) for lang, b in blocks if lang in ("python", "yaml", "toml")]
    assert len(files) >= 6 and any(b.startswith("# mylab/codecs.py") for _, b in files)
    repo = tmp_path / "my-repo"
    repo.mkdir()
    for _, b in files:
        first = b.splitlines()[0]
        rel = first.lstrip("# ").split()[0]
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(b)
    (repo / "mylab" / "__init__.py").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this venv's bench and python
    env["BENCH_CACHE"] = str(tmp_path / "cache")
    ran = []
    for lang, b in blocks:
        if lang != "bash":
            continue
        for line in b.splitlines():
            line = line.strip()
            if line.startswith("export "):
                k, _, v = line[len("export "):].partition("=")
                env[k] = str(repo) if v == "." else v
            elif line.startswith(("bench ", "python ")):
                proc = subprocess.run(["bash", "-c", line], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
                assert proc.returncode == 0, (line, proc.stdout[-2000:], proc.stderr[-3000:])
                ran.append((line, proc.stdout))
    assert len(ran) >= 8, [r[0] for r in ran]
    out = dict(ran)
    ls = next(v for k, v in out.items() if k.startswith("bench ls"))
    assert "mjpeg444  (adapter mylab.codecs:FFmpegMJPEG" in ls and "pix_fmt = 'yuvj444p'" in ls
    bd = next(v for k, v in out.items() if k.startswith("bench bd"))
    assert "BD-rate [%] against x265_444_10bit" in bd and "mjpeg444" in bd
    df = pd.read_parquet(repo / "results" / "mine" / "results.parquet")
    assert (df.status == "ok").all()
    assert set(df.codec) == {"mjpeg444", "jpeg", "x265_444_10bit", "mymodel"}
    mj = df[df.codec == "mjpeg444"]
    assert mj.groupby("point").bpp.mean().is_monotonic_decreasing  # higher qscale, fewer bits
    assert mj["mae_rgb"].notna().all() and (mj["mae_rgb"] > 0).all()  # added to the kept rows, not recomputed
    assert (df[df.codec == "mymodel"].decode_check == True).all()  # noqa: E712
    assert json.loads((repo / "baselines" / "mjpeg" / "meta.json").read_text())["rows"] == 8
    assert (repo / "results" / "mine" / "report.md").is_file()
    assert not (repo / "conf" / "config.yaml").exists()  # the packaged configs were used, not copied
