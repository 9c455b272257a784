#!/usr/bin/env bash
# Screening for issue 16's 3x target at T = 2 on copy (docs/RESULTS.md section 6.10): a wider core. With exact
# gradients over whole sequences (bptt T = 64) the LSTM 128 reached N = 7 in 4.1M samples at Adam 3e-3, and
# LSTM 256 lifted that ceiling (section 6.5), so dni past16 at N = 7 may be at the learner's limit rather than
# M's. dni past16 with 8-window targets (the best of section 6.10) and LSTM 256, and its 3x baseline, truncated
# bptt at T = 2 with LSTM 256 (the engine's default Adam 3e-3; bptt at 1e-3 was no better, section 6.2); 8M
# samples. Resumable, like every sweep; two copies may run at once with JOBS=1 and different seeds.
#   bash scripts/screen_width.sh [LOGDIR [TASK [SEED ...]]]      (~60 CPU-minutes per dni run)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/settings.sh
sweep_arguments "$@"
COMMON=(--name "screen_width_$TASK" --logdir "$LOGDIR" --tasks "$TASK" --horizons ${HORIZONS:-2} --seeds "${SEEDS[@]}"
        --batch-size 32 --jobs "${JOBS:-2}" --threads 1 --budget-samples 8192000)
python -m scripts.sweep "${COMMON[@]}" --methods dni --variant past16_nstep8_h256="$PAST16 --sg-target-windows 8 --hidden 256" -- --probe-every 500
python -m scripts.sweep "${COMMON[@]}" --methods bptt --variant h256="--hidden 256"
