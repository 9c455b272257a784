#!/usr/bin/env bash
# The long runs of docs/RESULTS.md section 6.10 (issue 16's 3x target at T = 2): dni past16 (section 6.7) with
# 4-window targets (--sg-target-windows 4: M's target is 8 steps of real backprop before the bootstrap), the
# best setting of scripts/screen_reach.sh; copy, T = 2, seeds 0-2, 8M samples. Seed 0 is the screening run
# (same name, same flags), so it is reused, not rerun. Resumable; two copies may run at once (seeds reversed).
#   bash scripts/evidence_reach.sh [LOGDIR [TASK [SEED ...]]]      (~15 CPU-minutes per run)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
TASK=${2:-copy}
SEEDS=("${@:3}")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0 1 2)
PAST16="--lr 1e-3 --lr-schedule cosine --sg-scale 1 --bootstrap-discount 0.9 --sg-context past_inputs --context-steps 16"
python -m scripts.sweep --name "screen_reach_$TASK" --logdir "$LOGDIR" --tasks "$TASK" --horizons ${HORIZONS:-2} \
    --seeds "${SEEDS[@]}" --batch-size 32 --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000 --methods dni \
    --variant past16_nstep4="$PAST16 --sg-target-windows 4" \
    -- --probe-every 500
