#!/usr/bin/env bash
# The control for the dni settings of docs/RESULTS.md 6.2-6.14: truncated BPTT with their core optimisers, Adam at
# 1e-3 (the "best" setting of 6.2, past16 of 6.7) or 2e-3 (6.11-6.14) with a cosine decay over the run, instead of
# the constant 1e-3 / 3e-3 of the bptt rows, so that dni's ratios are not the core's schedule in disguise. Copy and
# repeat copy, T = 2-5, LSTM 128, batch 32, 8M samples, the seeds given (default 0). Resumable; two runs at a time,
# one thread each (~3-4 min per run).
#   bash scripts/control_bptt_fast.sh [LOGDIR [SEED ...]]
#   TASKS=copy HORIZONS="2 3" LRS=2e-3 bash scripts/control_bptt_fast.sh logs 1 2      (some cells only)
# BATCH=B: B streams instead of 32 (variant names end in _b<B>; the control of RESULTS 6.18's batch 16):
#   NAME=control_bptt_batch16 BATCH=16 TASKS=repeat_copy HORIZONS=3 LRS=2e-3 bash scripts/control_bptt_fast.sh logs 0 1 2
# HIDDEN=H: an LSTM of H units (variant names end in _h<H>; the control of RESULTS 6.19's wider core):
#   NAME=control_bptt_width HIDDEN=256 TASKS=repeat_copy HORIZONS=5 LRS=2e-3 bash scripts/control_bptt_fast.sh logs 0
# Windows of 64-256 steps instead give the learner's ceiling, its gradient nearly uncut (RESULTS 6.19):
#   NAME=ceiling_repeat_copy TASKS=repeat_copy HORIZONS="64 128 256" LRS="1e-2 3e-2" bash scripts/control_bptt_fast.sh logs 0
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/settings.sh  # BATCH, HIDDEN and their suffixes
LOGDIR=${1:-logs}
SEEDS=("${@:2}")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0)
VARIANTS=()
for lr in ${LRS:-2e-3 1e-3}; do
    VARIANTS+=(--variant "lr${lr/-/}_cosine$BATCH_SUFFIX$HIDDEN_SUFFIX=--lr $lr --lr-schedule cosine$HIDDEN_FLAGS")
done
python -m scripts.sweep --name "${NAME:-control_bptt_fast}" --logdir "$LOGDIR" --tasks ${TASKS:-copy repeat_copy} \
    --horizons ${HORIZONS:-2 3 4 5} \
    --seeds "${SEEDS[@]}" --batch-size "$BATCH" --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000 --methods bptt \
    "${VARIANTS[@]}"
