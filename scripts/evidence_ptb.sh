#!/usr/bin/env bash
# The PTB data-saving measurement of docs/RESULTS.md section 6.3 (issue 16): does dni at T = 8 reach bptt
# T = 40's final valid BPC with half its characters? The setting of RESULTS section 2 (LSTM 256, batch 64,
# 2.56M characters, 2 seeds), with the whole valid split scored every 256,000 characters instead of
# 512,000, so that the crossing point is measured, not bracketed. Resumable, like every sweep.
#   bash scripts/evidence_ptb.sh [LOGDIR]      (two runs at a time, one thread each; ~25 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
COMMON=(--logdir "$LOGDIR" --tasks ptb --seeds 0 1 --budget-samples 2560000 --batch-size 64 --jobs 2
        --threads 1 --checkpoint-every 500 --eval-every-samples 256000)
python -m scripts.sweep --name evidence_ptb "${COMMON[@]}" --methods bptt --horizons 40 8 -- --hidden 256
python -m scripts.sweep --name evidence_ptb "${COMMON[@]}" --methods dni --horizons 8 -- --hidden 256 --probe-every 500
