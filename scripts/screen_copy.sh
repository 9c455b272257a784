#!/usr/bin/env bash
# The screening of docs/RESULTS.md section 6.1 (issue 16): which lever moves dni's copy plateau?
# One seed, T in {2, 3}, 4M samples, LSTM 128, batch 32; each variant changes one thing against "best"
# (core Adam 1e-3, injection scale 1, bootstrap discount 0.9). Resumable, like every sweep: run it again
# and finished runs are skipped, interrupted ones continue from their checkpoints.
#   bash scripts/screen_copy.sh [LOGDIR]      (two runs at a time, one thread each; ~40 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
BEST="--lr 1e-3 --sg-scale 1 --bootstrap-discount 0.9"
COMMON=(--logdir "$LOGDIR" --tasks copy --horizons 2 3 --seeds 0 --batch-size 32 --jobs 2 --threads 1
        --budget-samples 4096000)
# The learner's ceiling: windows of 64 steps hold every sequence up to N = 31 (nearly full BPTT).
python -m scripts.sweep --name screen_copy "${COMMON[@]}" --horizons 64 --methods bptt \
    --variant default="" --variant lr1e3="--lr 1e-3"
python -m scripts.sweep --name screen_copy "${COMMON[@]}" --methods dni \
    --variant default="" \
    --variant best="$BEST" \
    --variant best_inputs="$BEST --sg-context inputs" \
    --variant stagger_best="$BEST --stagger" \
    --variant best_past="$BEST --sg-context past_inputs" \
    -- --probe-every 500
# The levers that cost more to try (one run each), at T = 3 only.
python -m scripts.sweep --name screen_copy "${COMMON[@]}" --horizons 3 --methods dni \
    --variant best_n2="$BEST --sg-target-windows 2" \
    --variant best_cosine="$BEST --lr-schedule cosine" \
    --variant best_lstsq="$BEST --sg-solver least_squares" \
    --variant best_lr3e4="--lr 3e-4 --sg-scale 1 --bootstrap-discount 0.9" \
    --variant best_targets="$BEST --sg-context targets" \
    -- --probe-every 500
