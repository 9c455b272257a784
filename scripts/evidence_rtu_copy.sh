#!/usr/bin/env bash
# The exact-RTRL anchor on copy (issue 16's comparison): the RTU core (--cell rtu, 128 complex units, one
# layer) trained with --method bptt, whose traces carry the full-history gradient at any window, at
# T in {2, 3, 4, 5}, 3 seeds, batch 32, 4M samples: the budget and batch of the copy runs of docs/RESULTS.md
# section 6. Resumable like every sweep.   bash scripts/evidence_rtu_copy.sh [LOGDIR [JOBS]]
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
JOBS=${2:-2}
python -m scripts.sweep --logdir "$LOGDIR" --name evidence_rtu_copy --tasks copy --methods bptt --horizons 2 3 4 5 \
    --seeds 0 1 2 --batch-size 32 --jobs "$JOBS" --threads 1 --budget-samples 4096000 --variant rtu="--cell rtu"
