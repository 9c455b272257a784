#!/usr/bin/env bash
# The exact-RTRL anchor on copy and repeat copy (issue 16's comparison): the RTU core (--cell rtu, 128 complex
# units, one layer) trained with --method bptt, whose traces carry the full-history gradient at any window, at
# T in {2, 3, 4, 5}, 3 seeds, batch 32: the batch of the copy runs of docs/RESULTS.md section 6. Resumable like
# every sweep; a larger BUDGET extends finished runs from their checkpoints (RESULTS 6.6: 4M, then 8M).
#   bash scripts/evidence_rtu_copy.sh [LOGDIR [TASK [JOBS [BUDGET]]]]     TASK: copy (default) or repeat_copy
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
TASK=${2:-copy}
JOBS=${3:-2}
BUDGET=${4:-8192000}
NAME=evidence_rtu_copy
[ "$TASK" = copy ] || NAME="evidence_rtu_$TASK"
python -m scripts.sweep --logdir "$LOGDIR" --name "$NAME" --tasks "$TASK" --methods bptt --horizons 2 3 4 5 \
    --seeds 0 1 2 --batch-size 32 --jobs "$JOBS" --threads 1 --budget-samples "$BUDGET" --variant rtu="--cell rtu"
