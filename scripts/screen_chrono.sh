#!/usr/bin/env bash
# Chrono initialisation of the LSTM's gate biases (--chrono-steps 32: forget-gate time constants of
# 2-32 steps instead of torch's ~0.5 keep gate, Tallec & Ollivier 2018) on copy at T = 2, on top of dni past16
# (docs/RESULTS.md 6.7); 8M samples. Resumable, like every sweep.
#   bash scripts/screen_chrono.sh [LOGDIR [TASK [SEED ...]]]      (~10 CPU-minutes per run)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/settings.sh
sweep_arguments "$@"
COMMON=(--name "screen_chrono_$TASK" --logdir "$LOGDIR" --tasks "$TASK" --horizons ${HORIZONS:-2} --seeds "${SEEDS[@]}"
        --batch-size 32 --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000)
CHRONO="--chrono-steps 32"  # the variant name says chrono: a fixed K, so reruns find their runs
python -m scripts.sweep "${COMMON[@]}" --methods dni --variant past16_chrono="$PAST16 $CHRONO" -- --probe-every 500
