#!/usr/bin/env bash
# Issue 11: chrono initialisation of the LSTM's gate biases (--chrono-steps 64: forget-gate time constants of
# 2-64 steps, Tallec & Ollivier 2018) on the MemoryChain grid of scripts/evidence_rl.sh (same sweep, budget and
# setting: 256 envs, LSTM 64, Adam 3e-3, M's Adam 1e-4, 3 seeds, 3.07M env steps), as rows of the same table:
# dni, truncated bptt (its baseline) and full-episode bptt (the LSTM learner's upper bound), each with chrono;
# then RepeatPrevious and CartPole.
# The lags that decide k* go first. Resumable like every sweep; two copies may run at once (a run held by the
# other is refused and left to it; the exit code is that of the first sweep that failed).
#   bash scripts/evidence_rl_chrono.sh [LOGDIR]     (JOBS=1 for one run at a time; ~30-60 s per run)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${1:-logs}
RL="--hidden 64 --lr 3e-3 --sg-lr 1e-4 --log-every 20 --chrono-steps 64"  # fixed: the variant names say chrono
COMMON=(--logdir "$LOGDIR" --name rl_horizon --tasks rl --seeds 0 1 2 --batch-size 256 --jobs "${JOBS:-2}" --threads 1
        --budget-samples 3072000)
code=0
fail() { [ $code != 0 ] || code=$1; }
python -m scripts.sweep "${COMMON[@]}" --methods dni --variant chrono= --horizons 4 8 --vary memory-length=16,32 -- $RL || fail $?
python -m scripts.sweep "${COMMON[@]}" --methods bptt --variant chrono= --horizons 4 8 --vary memory-length=8,16 -- $RL || fail $?
python -m scripts.sweep "${COMMON[@]}" --methods dni bptt --variant chrono= --horizons 4 8 --vary memory-length=4,8,16,32,64 \
    -- $RL || fail $?
for lag in 16 32 64; do  # full-episode bptt (windows of lag + 2 hold one episode each), as in evidence_rl.sh
    python -m scripts.sweep "${COMMON[@]}" --horizons $((lag + 2)) --methods bptt \
        --variant episode_chrono="--memory-length $lag" -- $RL || fail $?
done
# The other environments of evidence_rl.sh with chrono: RepeatPrevious-Medium (the lag-31 target at T = 8) and the
# no-regression checks, RepeatPrevious-Easy and position-only CartPole.
ENVS=(--logdir "$LOGDIR" --tasks rl --batch-size 256 --jobs "${JOBS:-2}" --threads 1 --horizons 8)
python -m scripts.sweep --name rl_rp_medium "${ENVS[@]}" --variant chrono= --seeds 0 1 2 --budget-samples 4096000 \
    --methods dni bptt -- --env dni_rnn/RepeatPreviousMedium-v0 --gamma 0.5 $RL || fail $?
python -m scripts.sweep --name rl_rp_easy "${ENVS[@]}" --variant chrono= --seeds 0 1 --budget-samples 2048000 \
    --methods dni -- --env dni_rnn/RepeatPreviousEasy-v0 --gamma 0.5 $RL || fail $?
python -m scripts.sweep --name rl_cartpole "${ENVS[@]}" --variant chrono= --seeds 0 1 --budget-samples 3072000 \
    --methods dni -- --env dni_rnn/PositionOnlyCartPole-v0 --reward-scale 0.1 $RL || fail $?
# The setting that met the T = 4 target (chrono with the core's Adam decayed over the run, scripts/screen_rl.sh) on
# the same three environments: RepeatPrevious-Medium at 5.12M steps like the MemoryChain row, the controls at
# their own budgets.
COSINE=(--variant chrono_cosine= --methods dni)
python -m scripts.sweep --name rl_rp_medium "${ENVS[@]}" "${COSINE[@]}" --seeds 0 1 2 --budget-samples 5120000 \
    -- --env dni_rnn/RepeatPreviousMedium-v0 --gamma 0.5 $RL --lr-schedule cosine || fail $?
python -m scripts.sweep --name rl_rp_easy "${ENVS[@]}" "${COSINE[@]}" --seeds 0 1 --budget-samples 2048000 \
    -- --env dni_rnn/RepeatPreviousEasy-v0 --gamma 0.5 $RL --lr-schedule cosine || fail $?
python -m scripts.sweep --name rl_cartpole "${ENVS[@]}" "${COSINE[@]}" --seeds 0 1 --budget-samples 3072000 \
    -- --env dni_rnn/PositionOnlyCartPole-v0 --reward-scale 0.1 $RL --lr-schedule cosine || fail $?
# M's Adam at 1e-3 on top of chrono + cosine (scripts/screen_rl.sh, variant cc5m_sglr1e3: lag 32 at T = 8 from 0.63
# to 0.88): the same three environments.
SGLR=(--variant cc_sglr1e3= --methods dni)
python -m scripts.sweep --name rl_rp_easy "${ENVS[@]}" "${SGLR[@]}" --seeds 0 1 --budget-samples 2048000 \
    -- --env dni_rnn/RepeatPreviousEasy-v0 --gamma 0.5 $RL --lr-schedule cosine --sg-lr 1e-3 || fail $?
python -m scripts.sweep --name rl_cartpole "${ENVS[@]}" "${SGLR[@]}" --seeds 0 1 --budget-samples 3072000 \
    -- --env dni_rnn/PositionOnlyCartPole-v0 --reward-scale 0.1 $RL --lr-schedule cosine --sg-lr 1e-3 || fail $?
python -m scripts.sweep --name rl_rp_medium "${ENVS[@]}" "${SGLR[@]}" --seeds 0 1 2 --budget-samples 5120000 \
    -- --env dni_rnn/RepeatPreviousMedium-v0 --gamma 0.5 $RL --lr-schedule cosine --sg-lr 1e-3 || fail $?
# The setting that reached lag 32 at T = 8 in seeds 0-2 (scripts/screen_rl.sh, variant cc5m_sglr1e3_k48_ent003:
# M's Adam 1e-3, chrono up to 48 steps, entropy 0.003) on the same three environments.
K48=(--variant cc_k48_ent003= --methods dni)
K48_FLAGS="--lr-schedule cosine --sg-lr 1e-3 --chrono-steps 48 --entropy-coef 0.003"
python -m scripts.sweep --name rl_rp_easy "${ENVS[@]}" "${K48[@]}" --seeds 0 1 --budget-samples 2048000 \
    -- --env dni_rnn/RepeatPreviousEasy-v0 --gamma 0.5 $RL $K48_FLAGS || fail $?
python -m scripts.sweep --name rl_cartpole "${ENVS[@]}" "${K48[@]}" --seeds 0 1 --budget-samples 3072000 \
    -- --env dni_rnn/PositionOnlyCartPole-v0 --reward-scale 0.1 $RL $K48_FLAGS || fail $?
python -m scripts.sweep --name rl_rp_medium "${ENVS[@]}" "${K48[@]}" --seeds 0 1 2 --budget-samples 5120000 \
    -- --env dni_rnn/RepeatPreviousMedium-v0 --gamma 0.5 $RL $K48_FLAGS || fail $?
# RepeatPrevious-Medium's upper bound for the LSTM learner: full-episode BPTT (an episode is 103 steps and its
# pseudo-step, so windows of 104 steps hold one episode each, every environment starting together), with torch's
# initialisation and with chrono. 256 environments make only 192 updates in 5.12M steps, so 64 (769 updates) too.
for envs in 256 64; do
    suffix=$([ "$envs" = 256 ] || echo "_b$envs")
    python -m scripts.sweep --name rl_rp_medium "${ENVS[@]}" --horizons 104 --batch-size "$envs" --methods bptt \
        --seeds 0 1 2 --budget-samples 5120000 --variant "episode$suffix=--hidden 64 --lr 3e-3 --log-every 20" \
        --variant "episode_chrono$suffix=$RL" -- --env dni_rnn/RepeatPreviousMedium-v0 --gamma 0.5 || fail $?
done
exit $code
