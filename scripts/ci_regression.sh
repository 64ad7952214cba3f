#!/usr/bin/env bash
# The CI regression check on bitrate: a small deterministic sweep (2 bundled photos; x265 4:4:4,
# JPEG and the demo learned codec, 2 rate points each) compared with the committed baseline in results/baselines/ci/.
#
#   scripts/ci_regression.sh              run the sweep and check it (exit 1 on a regression)
#   scripts/ci_regression.sh --update     run the sweep and rewrite the baseline on purpose (commit it)
#   CI_RESULTS=out scripts/ci_regression.sh   keep the sweep in out/ci (e.g. as a CI artifact)
#
# Any other arguments go to `bench check` (e.g. --all, --bpp-tol CODEC=0.005).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-.venv/bin/bench}
if [[ -n "${CI_RESULTS:-}" ]]; then
  OUT=$CI_RESULTS
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
rm -rf "$OUT/ci"  # always a fresh sweep: no row is resumed from an earlier run
# the report after each sweep without the picture panels (the artifact's `bench report` draws them)
common=(dataset=ci sweep=ci "results_root=$OUT" plot=false workers=2 threads=1 +hydra.callbacks.report.panels=false)

"$BENCH" "${common[@]}" codec=x265_444_10bit 'codec.points=[27,37]'
"$BENCH" "${common[@]}" codec=jpeg 'codec.points=[30,70]'

# Learned codec: the demo checkpoints of codecs/demo/ on the CPU (rANS bytes are exact there; on a
# GPU the entropy coder is not bit-exact across devices: give it --bpp-tol demo_hyperprior=0.005).
"$BENCH" "${common[@]}" codec=demo_hyperprior 'codec.points=[3,5]' codec.params.device=cpu

"$BENCH" check "$OUT/ci" --baseline results/baselines/ci "$@"
