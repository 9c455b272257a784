# Sourced by the copy and repeat-copy sweep scripts: the settings of docs/RESULTS.md that several of them share,
# and their [LOGDIR [TASK [SEED ...]]] arguments.
# shellcheck shell=bash

# "best" (section 6.2): the core's Adam at 1e-3 with a cosine decay, injection 1, bootstrap discount 0.9.
BEST="--lr 1e-3 --lr-schedule cosine --sg-scale 1 --bootstrap-discount 0.9"
# "past16" (section 6.7): best, with M reading the last 16 inputs of the boundary's episode.
PAST16="$BEST --sg-context past_inputs --context-steps 16"

# BATCH=B in the environment: B streams instead of 32, for the same samples (RESULTS 6.18); BATCH_SUFFIX ends the
# variant names of such runs ("_b16"), and is empty at 32.
BATCH=${BATCH:-32}
BATCH_SUFFIX=
[ "$BATCH" = 32 ] || BATCH_SUFFIX=_b$BATCH
# HIDDEN=H likewise: an LSTM of H units instead of 128; HIDDEN_FLAGS holds the flag ("" at 128), HIDDEN_SUFFIX ends
# the variant names ("_h256").
HIDDEN=${HIDDEN:-128}
HIDDEN_FLAGS=
HIDDEN_SUFFIX=
[ "$HIDDEN" = 128 ] || { HIDDEN_FLAGS=" --hidden $HIDDEN"; HIDDEN_SUFFIX=_h$HIDDEN; }

# sweep_arguments "$@": LOGDIR (default logs), TASK (default copy) and the array SEEDS (default 0 1 2).
sweep_arguments() {
    LOGDIR=${1:-logs}
    TASK=${2:-copy}
    SEEDS=("${@:3}")
    [ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0 1 2)
}
