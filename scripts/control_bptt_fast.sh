#!/usr/bin/env bash
# The control for the setting of docs/RESULTS.md 6.12-6.14: truncated BPTT with that setting's core optimiser (Adam
# at 2e-3 with a cosine decay, instead of the 1e-3 / 3e-3 constant of the bptt rows), so that dni's ratios are not
# the core's schedule in disguise. Copy and repeat copy, T = 2-5, LSTM 128, batch 32, 8M samples, the seeds given
# (default 0). Resumable; two runs at a time, one thread each (~3-6 min per run).
#   bash scripts/control_bptt_fast.sh [LOGDIR [SEED ...]]
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
SEEDS=("${@:2}")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0)
python -m scripts.sweep --name control_bptt_fast --logdir "$LOGDIR" --tasks copy repeat_copy --horizons 2 3 4 5 \
    --seeds "${SEEDS[@]}" --batch-size 32 --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000 --methods bptt \
    --variant lr2e3_cosine="--lr 2e-3 --lr-schedule cosine"
