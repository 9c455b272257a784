#!/usr/bin/env bash
# The long runs of docs/RESULTS.md section 6.10 (issue 16's 3x target at T = 2): dni past16 (section 6.7) with
# n-window targets (--sg-target-windows n: M's target is n windows of real backprop, 2n steps at T = 2, before
# the bootstrap), the two best settings of scripts/screen_reach.sh: n = 4 and n = 8. Copy, T = 2, seeds 0-2, 8M
# samples. Seed 0 of each is the screening run (same name, same flags), so it is reused, not rerun.
# Resumable; two copies may run at once, one run each:
#   JOBS=1 bash scripts/evidence_reach.sh logs copy 1 2 & JOBS=1 bash scripts/evidence_reach.sh logs copy 2 1
#   bash scripts/evidence_reach.sh [LOGDIR [TASK [SEED ...]]]      (~15 / ~25 CPU-minutes per run, n = 4 / 8)
#   NS=4 HORIZONS="2 3" bash scripts/evidence_reach.sh logs repeat_copy 0      (one n, other T, another task)
# FAST=1: the setting of section 6.12 instead, the core's Adam at 2e-3 and M's at 3e-4 (variant names end in
# _lr2e3_sglr3e4, as in round 5 of scripts/screen_reach.sh, whose runs are reused):
#   FAST=1 NS=8 HORIZONS="2 3" bash scripts/evidence_reach.sh logs repeat_copy 0
# NAME=...: the sweep's name (default screen_reach_TASK), so more seeds can go to a sweep of their own and be
# reported without replacing the records of one whose run directories are gone:
#   NAME=evidence_fast_repeat_copy FAST=1 NS=8 HORIZONS="3 4 5" bash scripts/evidence_reach.sh logs repeat_copy 1 2
# CONTEXT=K: M reads the last K inputs instead of 16 (variant names start past<K>). On repeat copy a sequence is
# N + 1 + N R + 1 steps (44 at N = R = 6), so K = 48 lets M see the bits at the boundaries of the later repeats:
#   NAME=screen_past48_repeat_copy CONTEXT=48 FAST=1 NS=8 HORIZONS="3 5" bash scripts/evidence_reach.sh logs repeat_copy 0
# BATCH=B: B streams instead of 32 (variant names end in _b<B>). The budget stays 8,192,000 samples, so batch 16
# makes twice the updates of batch 32: the learner is update-limited (sections 6.5 and 6.11):
#   NAME=screen_batch16_repeat_copy BATCH=16 FAST=1 NS=8 HORIZONS="3 5" bash scripts/evidence_reach.sh logs repeat_copy 0
# HIDDEN=H: an LSTM of H units instead of 128 (variant names end in _h<H>). With exact gradients over whole sequences
# the wider core lifted the learner's ceiling (section 6.5); is dni's plateau that ceiling (RESULTS 6.19)?
#   NAME=screen_width_repeat_copy HIDDEN=256 FAST=1 NS=8 HORIZONS=5 bash scripts/evidence_reach.sh logs repeat_copy 0
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/settings.sh
sweep_arguments "$@"
CONTEXT=${CONTEXT:-16}
SETTING=${PAST16/--context-steps 16/--context-steps $CONTEXT}
SUFFIX=
if [ "${FAST:-0}" = 1 ]; then
    SETTING="${SETTING/--lr 1e-3/--lr 2e-3} --sg-lr 3e-4"
    SUFFIX=_lr2e3_sglr3e4
fi
SETTING=$SETTING$HIDDEN_FLAGS
SUFFIX=$SUFFIX$BATCH_SUFFIX$HIDDEN_SUFFIX
code=0
for n in ${NS:-4 8}; do  # a run held by another copy of this script fails here and is left to it
    python -m scripts.sweep --name "${NAME:-screen_reach_$TASK}" --logdir "$LOGDIR" --tasks "$TASK" --horizons ${HORIZONS:-2} \
        --seeds "${SEEDS[@]}" --batch-size "$BATCH" --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000 --methods dni \
        --variant "past${CONTEXT}_nstep$n$SUFFIX=$SETTING --sg-target-windows $n" \
        -- --probe-every 500 || { [ $code != 0 ] || code=$?; }
done
exit $code
