#!/usr/bin/env bash
# The exact-RTRL anchor on copy and repeat copy (issue 16's comparison): the RTU core (--cell rtu, 128 complex
# units, one layer) trained with --method bptt, whose traces carry the full-history gradient at any window, at
# T in {2, 3, 4, 5}, 3 seeds, batch 32, 4M samples: the batch of the copy runs of docs/RESULTS.md section 6 at
# half their dni budget. Resumable like every sweep.
#   bash scripts/evidence_rtu_copy.sh [LOGDIR [TASK [JOBS]]]     TASK: copy (default) or repeat_copy
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
TASK=${2:-copy}
JOBS=${3:-2}
NAME=evidence_rtu_copy
[ "$TASK" = copy ] || NAME="evidence_rtu_$TASK"
python -m scripts.sweep --logdir "$LOGDIR" --name "$NAME" --tasks "$TASK" --methods bptt --horizons 2 3 4 5 \
    --seeds 0 1 2 --batch-size 32 --jobs "$JOBS" --threads 1 --budget-samples 4096000 --variant rtu="--cell rtu"
