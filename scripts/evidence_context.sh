#!/usr/bin/env bash
# The long runs of docs/RESULTS.md section 6.7 (issue 16): dni with M reading the last 16 inputs of the boundary's
# episode (--sg-context past_inputs --context-steps 16) on top of the "best" setting of section 6.2 (core Adam 1e-3
# with a cosine decay, injection 1, discount 0.9); T in {2, 3, 4, 5}, seeds 0-2, 8M samples; then its shuffled-M
# control at T = 3. bptt and dni best are the runs of sections 1 and 6.2.
# Resumable, like every sweep; two copies of this script may run at once (a run held by the other is refused
# and left to it): JOBS=1 bash scripts/evidence_context.sh logs copy 0 1 2 & JOBS=1 ... 2 1 0.
#   bash scripts/evidence_context.sh [LOGDIR [TASK [SEED ...]]]     (~100 CPU-minutes for copy)
#   HORIZONS="2 3" CONTROL=0 bash scripts/evidence_context.sh logs repeat_copy   (some T only, no control)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/settings.sh
sweep_arguments "$@"
COMMON=(--logdir "$LOGDIR" --name "evidence_context_$TASK" --tasks "$TASK" --seeds "${SEEDS[@]}" --batch-size 32
        --jobs "${JOBS:-2}" --threads 1 --methods dni --budget-samples 8192000)
read -r -a HORIZON_LIST <<< "${HORIZONS:-2 3 4 5}"
# A run held by another copy of this script fails here and is left to it: the control still runs, and the
# script's exit code is that of the first sweep that failed.
code=0
python -m scripts.sweep "${COMMON[@]}" --horizons "${HORIZON_LIST[@]}" --variant past16="$PAST16" -- --probe-every 500 \
    || code=$?
if [ "${CONTROL:-1}" = 1 ]; then
    python -m scripts.sweep "${COMMON[@]}" --horizons 3 --variant past16_shuffled="$PAST16 --sg-shuffle" -- --probe-every 500 \
        || { [ $code != 0 ] || code=$?; }
fi
exit $code
