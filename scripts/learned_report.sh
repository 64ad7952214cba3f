#!/usr/bin/env bash
# The learned-codec report in one command: the demo models (codecs/demo/) and CompressAI zoo
# architectures built from locally initialised weights (no download): bmshj2018-factorized at two zoo
# sizes, mbt2018-mean, mbt2018 (autoregressive: its serial context model in the complexity table) and
# the variable-rate bmshj2018-hyperprior-vbr at three quantisation steps.  The report's learned section
# shows the complexity table (both counters), the timing table and the portability column.
#
#   scripts/learned_report.sh                     the bundled CI photos (offline, a few minutes on 2 cores)
#   scripts/learned_report.sh dataset=kodak dataset.root=../shared/datasets/kodak    (any sweep overrides)
#   OUT=results scripts/learned_report.sh         where the sweep folder `learned` goes (default results)
#
# The RD points of locally initialised models mean nothing (their codec label says so): they are there
# for parameters, kMAC/px, timing and bitstream portability.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-.venv/bin/bench}
OUT=${OUT:-results}
data=(dataset=ci)
for a in "$@"; do [[ $a == dataset=* ]] && data=(); done  # a dataset given on the command line replaces ci
common=("${data[@]}" sweep=learned "results_root=$OUT" plot=false workers=1 threads=1 '~hydra.callbacks.report' "$@")

"$BENCH" "${common[@]}" codec=demo_hyperprior
"$BENCH" "${common[@]}" codec=compressai_init codec.params.arch=bmshj2018-factorized 'codec.points=[1,8]'
"$BENCH" "${common[@]}" codec=compressai_init codec.params.arch=mbt2018-mean 'codec.points=[1]'
"$BENCH" "${common[@]}" codec=compressai_init codec.params.arch=mbt2018 'codec.points=[1]'
"$BENCH" "${common[@]}" codec=compressai_vbr codec.params.weights=init 'codec.points=[1,3.7,10]'
"$BENCH" report "$OUT/learned" --anchor demo_hyperprior --boot 0
