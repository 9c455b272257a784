#!/usr/bin/env bash
# Issue 13: what the cheaper dni_aux (--aux-pooling mean: the aux head reads each episode's mean output once per
# window, 1/T of the head's cost) does to the copy results, against section 1's dni_aux (every step) at the same
# setting: copy, T in {2, 3, 4, 5, 8}, seeds 0-2, 2M samples, batch 32, defaults. docs/RESULTS.md section 4.2.
# Resumable, like every sweep.
#   bash scripts/aux_pooling.sh [LOGDIR]       (two runs at a time, JOBS=1 for one; one thread each; ~15 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
python -m scripts.sweep --logdir "$LOGDIR" --name aux_pooling --tasks copy --methods dni_aux \
    --horizons 2 3 4 5 8 --seeds 0 1 2 --batch-size 32 --jobs "${JOBS:-2}" --threads 1 --budget-samples 2048000 \
    --variant mean="--aux-pooling mean"
