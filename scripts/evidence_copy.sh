#!/usr/bin/env bash
# The long copy runs of docs/RESULTS.md section 2 (issue 16): bptt, dni with the default settings, and dni with
# the best setting of the screening (section 2.1), 3 seeds, T in {2,3,4,5}, plus the shuffled-M control.
# Resumable: run it again and finished runs are skipped, interrupted ones continue from their checkpoints.
#   bash scripts/evidence_copy.sh [LOGDIR]     (two runs at a time, one thread each; ~75 minutes on 2 cores)
# bptt and the default dni are flat after ~0.4M and ~1M samples (RESULTS section 1; the default dni stays at its
# level to 8M samples, issue 16), so they run 2M samples; the best setting, still improving at 4M in the
# screening, runs 8M.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
BEST="--lr 1e-3 --sg-scale 1 --bootstrap-discount 0.9"
COMMON=(--logdir "$LOGDIR" --tasks copy --horizons 2 3 4 5 --seeds 0 1 2 --batch-size 32 --jobs 2 --threads 1)

# bptt is flat after ~0.4M samples at every T (RESULTS section 1), so 2M samples show its plateau.
python -m scripts.sweep --name evidence_bptt "${COMMON[@]}" --methods bptt --budget-samples 2048000 \
    --variant lr3e3="" --variant lr1e3="--lr 1e-3"
python -m scripts.sweep --name evidence_dni "${COMMON[@]}" --methods dni --budget-samples 8192000 \
    --variant best="$BEST" -- --probe-every 200
python -m scripts.sweep --name evidence_control "${COMMON[@]}" --horizons 3 --methods dni --budget-samples 8192000 \
    --variant best_shuffled="$BEST --sg-shuffle" -- --probe-every 200
python -m scripts.sweep --name evidence_dni_default "${COMMON[@]}" --methods dni --budget-samples 2048000 \
    --variant default="" -- --probe-every 200
