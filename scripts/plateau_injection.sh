#!/usr/bin/env bash
# Issue 16: is the injected gradient what biases the core at dni's copy plateau (the curriculum loss drifting
# up while N stays put)? docs/RESULTS.md section 6.7. A parent run of dni with its defaults (Adam 3e-3,
# injection = discount = 0.1) to 2M samples, where N has sat at 4 since ~0.7M; then two branches from the
# parent's last checkpoint (--branch-from), 4M samples more each: "on" continues it unchanged, "off" switches
# the injection off (--sg-scale 0) and leaves M learning on the same targets (--bootstrap-discount 0.1).
# T in {2, 3} (or the T given), seeds 0-2. Resumable, like every sweep.
#   bash scripts/plateau_injection.sh [LOGDIR [T ...]]   (two runs at a time, JOBS=1 for one; one thread each;
#   ~25 minutes; two copies for different T may run side by side)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
HORIZONS=("${@:2}")
[ ${#HORIZONS[@]} -gt 0 ] || HORIZONS=(2 3)
COMMON=(--logdir "$LOGDIR" --name plateau_injection --tasks copy --methods dni --horizons "${HORIZONS[@]}" --seeds 0 1 2
        --batch-size 32 --jobs "${JOBS:-2}" --threads 1)
PARENT="$LOGDIR/plateau_injection/{task}__{method}__T{T}__s{seed}__parent/checkpoint.pt"
python -m scripts.sweep "${COMMON[@]}" --budget-samples 2048000 --variant parent=""
python -m scripts.sweep "${COMMON[@]}" --budget-samples 6144000 \
    --variant on="--branch-from $PARENT" \
    --variant off="--branch-from $PARENT --sg-scale 0 --bootstrap-discount 0.1"
