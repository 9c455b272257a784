#!/usr/bin/env bash
# Issue 11: dni with 4-window targets (--sg-target-windows 4, M's Adam 1e-3; docs/RL.md screening) on the
# MemoryChain grid of scripts/evidence_rl.sh (same sweep, budget and setting: 256 envs, LSTM 64, Adam 3e-3,
# 3 seeds, 3.07M env steps), so that it is one more row of the same table. At T = 4 the 4 windows span 16 steps:
# M's target carries the decision's real gradient back across a lag of 16 before it bootstraps.
# The lags that decide k* go first. Resumable like every sweep; two copies may run at once (a run held by the
# other is refused and left to it; the exit code is that of the first sweep that failed).
#   bash scripts/evidence_rl_nstep.sh [LOGDIR]     (JOBS=1 for one run at a time; ~75 s per run)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
RL="--hidden 64 --lr 3e-3 --sg-lr 1e-4 --log-every 20"
N4="--sg-lr 1e-3 --sg-target-windows 4"
COMMON=(--logdir "$LOGDIR" --name rl_horizon --tasks rl --seeds 0 1 2 --batch-size 256 --jobs "${JOBS:-2}" --threads 1
        --budget-samples 3072000 --methods dni --variant n4="$N4")
code=0
python -m scripts.sweep "${COMMON[@]}" --horizons 4 --vary memory-length=16,8,32 -- $RL || code=$?
python -m scripts.sweep "${COMMON[@]}" --horizons 8 --vary memory-length=8,16,32 -- $RL || { [ $code != 0 ] || code=$?; }
python -m scripts.sweep "${COMMON[@]}" --horizons 4 8 --vary memory-length=4,64 -- $RL || { [ $code != 0 ] || code=$?; }
exit $code
