#!/usr/bin/env bash
# Issue 16, this session's screening: is the copy plateau the learner's or M's? First the ceiling of the
# learner (windows of 64 steps hold every sequence up to N = 31: nearly full BPTT) against its step size
# and width, then truncated BPTT and dni at the step size that raises that ceiling. One seed, batch 32.
# Resumable like every sweep.   bash scripts/screen_learner.sh [LOGDIR]   (two runs at a time, one thread each)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
COMMON=(--logdir "$LOGDIR" --name screen_learner --tasks copy --seeds 0 --batch-size 32 --jobs 2 --threads 1)
# The ceiling, 4M samples. (b16 variants run 2M samples: the budget is converted to steps at batch 32.)
python -m scripts.sweep "${COMMON[@]}" --budget-samples 4096000 --horizons 64 --methods bptt \
    --variant h256="--hidden 256" --variant lr1e2="--lr 1e-2" --variant b16="--batch-size 16" \
    --variant h256_b16="--hidden 256 --batch-size 16" --variant lr2e2="--lr 2e-2" --variant lr3e2="--lr 3e-2" \
    --variant h256_lr1e2="--hidden 256 --lr 1e-2"
# Truncated BPTT and dni at the larger step size, 2M samples.
python -m scripts.sweep "${COMMON[@]}" --budget-samples 2048000 --horizons 2 3 --methods bptt dni \
    --variant lr1e2="--lr 1e-2" --variant lr1e2_best="--lr 1e-2 --sg-scale 1 --bootstrap-discount 0.9"
