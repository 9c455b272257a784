#!/usr/bin/env bash
# Screening for issue 16 on repeat copy (docs/RESULTS.md section 6.10): M's lookback spanning the output phase.
# A repeat-copy sequence of N bits repeated R times is N + 1 + N R + 1 steps long (32 at N = R = 5), so with the
# past16 setting of section 6.9 M sees no input bit at the boundaries of the later repeats, where the gradient
# that says "keep these bits" comes from. K = 48 inputs back cover them up to N = R = 6 (K = 32 was no better
# than 16 on copy, where 16 already spans a sequence).
# Seed 0, T in {2, 3}, 8M samples. Resumable, like every sweep.
#   bash scripts/screen_context_span.sh [LOGDIR [TASK]]      (two runs at a time, one thread each; ~20 min)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
TASK=${2:-repeat_copy}
source scripts/settings.sh
python -m scripts.sweep --name "screen_context_span_$TASK" --logdir "$LOGDIR" --tasks "$TASK" --horizons ${HORIZONS:-2 3} \
    --seeds 0 --batch-size 32 --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000 --methods dni \
    --variant past48="$BEST --sg-context past_inputs --context-steps 48" \
    -- --probe-every 500
