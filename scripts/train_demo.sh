#!/usr/bin/env bash
# The demo learned codec's training (codecs/demo/), on the CPU of a 2-core machine, resumable:
# rerun the script after an interruption and each stage continues from its last saved state.
#
#   nice -n 10 scripts/train_demo.sh [OUT]          OUT: where checkpoints and logs go (default train-out)
#
# 1. base: bmshj2018-hyperprior N=96 M=128, lambda 0.013, 20,000 steps of 8 random 128 px crops,
#    lr 3e-4 (500 warm-up steps) cosine to 1e-5; one torch thread (two threads beside other work on 2
#    cores ran 4x slower: oversubscription).  ~2.7 h here.
# 2. one fine-tune per lambda at 192 px, batch 4, lr 1e-4 cosine to 5e-6, each from its nearest trained
#    neighbour: 0.013 (500 steps) and 0.0067 (1,200) from the base, 0.0035 (1,500) from 0.0067, 0.0018
#    (1,500) from 0.0035, 0.025 (1,200) from the base, 0.0483 (1,200) from 0.025.  ~1.2 h here.
# 3. then, by hand: copy the six files into codecs/demo/, sweep Kodak and write the manifest (README,
#    "The demo models").
# Training data: BSDS500 train+test (../shared/datasets/train-bsds500); its val split is the validation.
set -euo pipefail
cd "$(dirname "$0")/.."
O=$(realpath -m "${1:-train-out}")
mkdir -p "$O"
BENCH=${BENCH:-.venv/bin/bench}
D=${DATA:-../shared/datasets/train-bsds500}
export OMP_NUM_THREADS=1
NM="arch=bmshj2018-hyperprior N=96 M=128 data=$D threads=1"
name() { echo "$O/bmshj2018-hyperprior-N96-M128-mse-lambda$1.pth.tar"; }

[ -f "$O/base-lambda0.013.pth.tar" ] || "$BENCH" train $NM lmbda=0.013 steps=20000 patch=128 batch=8 lr=3e-4 lr_min=1e-5 \
  warmup=500 out="$O/base-lambda0.013.pth.tar"

FT="patch=192 batch=4 lr=1e-4 lr_min=5e-6 warmup=100 val_every=250"
for spec in 0.013:500:base 0.0067:1200:base 0.0035:1500:0.0067 0.0018:1500:0.0035 0.025:1200:base 0.0483:1200:0.025; do
  IFS=: read -r L S FROM <<< "$spec"
  if [ "$FROM" = base ]; then INIT="$O/base-lambda0.013.pth.tar"; else INIT=$(name "$FROM"); fi
  [ -f "$(name "$L")" ] && continue
  "$BENCH" train $NM $FT lmbda="$L" steps="$S" init_from="$INIT" out="$(name "$L")"
done
echo "done: $(ls "$O"/bmshj2018-hyperprior-N96-M128-*.pth.tar | wc -l) checkpoints in $O"
