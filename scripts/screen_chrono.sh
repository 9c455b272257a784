#!/usr/bin/env bash
# Chrono initialisation of the LSTM's gate biases (--chrono-steps 32: forget-gate time constants drawn in
# [1, 31] steps instead of torch's ~0.5 keep gate, Tallec & Ollivier 2018) on copy at T = 2: dni past16
# (docs/RESULTS.md 6.7), past16 with 8-window targets (6.10), and truncated bptt with the same initialisation
# (the baseline the ratio needs); 8M samples. Resumable, like every sweep; two copies may run at once with
# JOBS=1 and different seeds.
#   bash scripts/screen_chrono.sh [LOGDIR [TASK [SEED ...]]]      (~10 / ~25 / ~8 CPU-minutes per run)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/settings.sh
sweep_arguments "$@"
COMMON=(--name "screen_chrono_$TASK" --logdir "$LOGDIR" --tasks "$TASK" --horizons ${HORIZONS:-2} --seeds "${SEEDS[@]}"
        --batch-size 32 --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000)
CHRONO="--chrono-steps ${CHRONO_STEPS:-32}"
code=0  # a run held by another copy of this script fails here and is left to it
python -m scripts.sweep "${COMMON[@]}" --methods dni --variant past16_chrono="$PAST16 $CHRONO" -- --probe-every 500 || code=$?
python -m scripts.sweep "${COMMON[@]}" --methods bptt --variant chrono="$CHRONO" || code=$?
python -m scripts.sweep "${COMMON[@]}" --methods dni --variant past16_nstep8_chrono="$PAST16 --sg-target-windows 8 $CHRONO" \
    -- --probe-every 500 || code=$?
exit $code
