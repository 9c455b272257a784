#!/usr/bin/env bash
# The long copy (or repeat-copy) runs of docs/RESULTS.md section 6.2 (issue 16): dni with the best setting of the
# screening (section 6.1: core Adam 1e-3 with a cosine decay to 0.1x, injection scale 1, bootstrap discount 0.9),
# 3 seeds, T in {2, 3, 4, 5}, 8M samples; its shuffled-M control at T = 3; and bptt at the core learning rate
# of that setting (bptt at the default 3e-3 and dni at its defaults are the table1 sweep of section 1,
# 2M samples: both are flat long before that).
# Resumable: run it again and finished runs are skipped, interrupted ones continue from their checkpoints.
#   bash scripts/evidence_copy.sh [LOGDIR [TASK [SEED ...]]]    (TASK copy or repeat_copy, seeds 0 1 2 by default;
#   two runs at a time, one thread each: ~45 minutes on 2 cores for copy and 3 seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/settings.sh
sweep_arguments "$@"
COMMON=(--logdir "$LOGDIR" --tasks "$TASK" --horizons 2 3 4 5 --seeds "${SEEDS[@]}" --batch-size 32 --jobs 2 --threads 1)

python -m scripts.sweep --name "evidence_$TASK" "${COMMON[@]}" --methods dni --budget-samples 8192000 \
    --variant best="$BEST" -- --probe-every 500
python -m scripts.sweep --name "evidence_$TASK" "${COMMON[@]}" --horizons 3 --methods dni --budget-samples 8192000 \
    --variant best_shuffled="$BEST --sg-shuffle" -- --probe-every 500
python -m scripts.sweep --name "evidence_$TASK" "${COMMON[@]}" --methods bptt --budget-samples 2048000 \
    --variant lr1e3="--lr 1e-3"
