#!/usr/bin/env bash
# Screening for issue 16 (docs/RESULTS.md section 6.7): M reading the latest K inputs of the boundary's
# episode (--sg-context past_inputs --context-steps K), reaching back across earlier windows, so that it can
# see which bits the sequence held that the state may have failed to store. Copy, one seed, T in {2, 3},
# 4M samples, the "best" setting of section 6.2 (core Adam 1e-3 with a cosine decay, injection 1, discount 0.9).
# Resumable, like every sweep.
#   bash scripts/screen_context.sh [LOGDIR [TASK]]      (two runs at a time, one thread each)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
TASK=${2:-copy}
source scripts/settings.sh
COMMON=(--logdir "$LOGDIR" --tasks "$TASK" --horizons 2 3 --seeds 0 --batch-size 32 --jobs ${JOBS:-2} --threads 1
        --budget-samples 4096000)
python -m scripts.sweep --name "screen_context_$TASK" "${COMMON[@]}" --methods dni \
    --variant best="$BEST" \
    --variant best_past16="$BEST --sg-context past_inputs --context-steps 16" \
    --variant best_past32="$BEST --sg-context past_inputs --context-steps 32" \
    -- --probe-every 500
# Round 2, on top of best_past16: an MLP M, the faster core of section 1, and the default engine setting.
python -m scripts.sweep --name "screen_context_$TASK" "${COMMON[@]}" --methods dni \
    --variant past16_mlp="$PAST16 --sg-hidden 256" \
    --variant past16_lr3e3="--lr 3e-3 --lr-schedule cosine --sg-scale 1 --bootstrap-discount 0.9 --sg-context past_inputs --context-steps 16" \
    --variant past16_defaults="--sg-context past_inputs --context-steps 16" \
    -- --probe-every 500
