#!/usr/bin/env bash
# Issue 11: the effective memory horizon of streaming learners on MemoryChain, and RepeatPrevious /
# CartPole with the RTU anchor. docs/RL.md setting: 256 envs, LSTM 64 (RTU 64 complex units), Adam 3e-3,
# M's Adam 1e-4. Rows: truncated BPTT (LSTM); dni (defaults); dni with the screened levers together
# (untied discount 0.97, M conditioned on the input after the boundary, 2-window targets); the RTU core
# trained by exact RTRL (--cell rtu --method bptt, the anchor); and full-episode BPTT (windows of one
# whole episode, T = lag + 2, aligned: the non-streaming upper bound). Resumable like every sweep.
#   bash scripts/evidence_rl.sh [LOGDIR]     (two runs at a time, one thread each)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
RL="--hidden 64 --lr 3e-3 --sg-lr 1e-4 --log-every 20"
LEVERS="--bootstrap-discount 0.97 --sg-context next_input --sg-target-windows 2"
COMMON=(--logdir "$LOGDIR" --tasks rl --seeds 0 1 2 --batch-size 256 --jobs 2 --threads 1)
GRID=(--name rl_horizon "${COMMON[@]}" --budget-samples 3072000 --horizons 4 8 --vary memory-length=4,8,16,32,64)
python -m scripts.sweep "${GRID[@]}" --methods bptt --variant rtu="--cell rtu" -- $RL
python -m scripts.sweep "${GRID[@]}" --methods bptt dni -- $RL
# The anchor fully online: one update per environment step (T = 1)
python -m scripts.sweep "${GRID[@]}" --horizons 1 --methods bptt --variant rtu="--cell rtu" -- $RL
python -m scripts.sweep "${GRID[@]}" --methods dni --variant levers="$LEVERS" -- $RL
for lag in 4 8 16 32 64; do  # one episode is lag + 1 steps and the pseudo-step: windows of lag + 2 hold one each
    python -m scripts.sweep --name rl_horizon "${COMMON[@]}" --budget-samples 3072000 --horizons $((lag + 2)) \
        --methods bptt --variant episode="--memory-length $lag" -- $RL
done
RP="--gamma 0.5 $RL"
python -m scripts.sweep --name rl_rp_medium "${COMMON[@]}" --budget-samples 4096000 --horizons 8 --methods bptt \
    --variant rtu="--cell rtu" -- --env dni_rnn/RepeatPreviousMedium-v0 $RP
python -m scripts.sweep --name rl_rp_easy "${COMMON[@]}" --seeds 0 1 --budget-samples 2048000 --horizons 8 \
    --methods bptt --variant rtu="--cell rtu" -- --env dni_rnn/RepeatPreviousEasy-v0 $RP
python -m scripts.sweep --name rl_cartpole "${COMMON[@]}" --seeds 0 1 --budget-samples 3072000 --horizons 8 \
    --methods bptt --variant rtu="--cell rtu" -- --env dni_rnn/PositionOnlyCartPole-v0 --reward-scale 0.1 $RL
