"""Streaming RL, the learner: an online advantage actor-critic on the shared window engine (SPEC section 3).

``dni-rnn train rl --env ID [--memory-length L] --batch-size B --horizon T --method bptt|dni|dni_aux``

``B`` environments run side by side (one per stream). Every window the task *acts* ``T`` steps with the
current weights, one core step per environment step under ``torch.no_grad()``, then hands the engine a
:class:`~dni_rnn.engine.Window` of what it saw; the engine re-runs the window with gradients from the
same start state (so the training forward is the acting forward: on-policy), adds the synthetic boundary
gradient for ``dni``, and updates. The learner never waits for an episode to end.

Per step ``t`` of environment ``b`` (docs/RL.md has the full story):

- input ``x_t = [flatten(obs_t), one_hot(a_{t-1}), r_{t-1}]`` (``--no-prev-action`` / ``--no-prev-reward``
  drop the last two); previous action and reward are zero on the first step of an episode;
- the core's output feeds a policy head (categorical logits) and a value head;
- ``a_t`` is sampled from the task's own ``torch.Generator``.

NEXT_STEP autoreset. After a step that ended an episode (terminated or truncated) the next ``env.step``
only resets: its action is ignored, its reward is 0. That *pseudo-step* is still a step of the stream
(windows are ``T`` steps of every environment), with the ended episode's final observation as input and
the ended episode's state (so its value ``V(final obs)`` is the bootstrap of a truncated episode), but it
is masked out of every loss term. The state is reset before the step after it, the first step of the new
episode, which is therefore processed from the initial state: no state and no gradient crosses episodes.
``Window.resets[t]`` is True there; ``Window.next_resets`` is True where the step after the window is a
pseudo-step or a first step (the ended episode has no loss left, so no synthetic gradient is injected).

Targets (from the acting pass, so detached): lambda-returns within the window,

    G_t = r_t + gamma * (1 - term_t) * [(1 - lam_t) V_{t+1} + lam_t G_{t+1}],  lam_t = lam * (1 - trunc_t)

with ``G_T = V_T`` the value of the observation after the window (computed with one extra core step at
the window's end), ``V_{t+1}`` after a truncation the value of the final observation (the pseudo-step's
value). Loss, normalised by ``T * B`` in every window (masked steps count as zeros)::

    sum_{t,b} valid * [ -log pi(a_t) A_t + value_coef * 0.5 (V_t - G_t)^2 - entropy_coef * H(pi_t) ] / (T B)

with ``A_t = G_t - V_t`` (acting values); ``--advantage-scale running`` divides ``A_t`` by the root of a running,
bias-corrected mean of ``A^2`` over the valid steps of the windows so far, this one included.
``--sg-policy-weight w < 1``: the core is trained on this loss, but ``M`` predicts the future gradient of
``value_coef * value loss + w * (policy and entropy terms)`` (:meth:`ActorCriticHead.sg_excluded_loss`).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import torch
import torch.nn.functional as F
from torch import Tensor

from dni_rnn.distributed import sum_over_ranks
from dni_rnn.engine import Window
from dni_rnn.lookback import EpisodeLookback
from dni_rnn.state import State
from dni_rnn.task import Actor, EvalOptions, Task
from dni_rnn.tensorboard_log import Ratio
from dni_rnn.train_config import TrainConfig
from dni_rnn_tasks.rl.envs import TorchBatchedEnv
from dni_rnn_tasks.rl.losses import ActorCriticHead, lambda_returns
from dni_rnn_tasks.rl.make import make_envs
from dni_rnn_tasks.rl.observations import flatten_observation
from dni_rnn_tasks.rl.options import RLOptions

__all__ = ["RLTask"]


class RLTask(Task):
    """Streaming actor-critic on batched environments (MemoryChain, popgym, ...)."""

    Config = RLOptions
    # Under torchrun every rank acts in its own B / world_size environments (own seeds, from the trainer);
    # episode statistics are summed over ranks where they are reported.
    local_windows = True
    figures_of_merit = ("return", "success_rate", "episode_length")
    key_charts = ("charts/episodic_return", "charts/success_rate", "charts/episodic_length")

    def __init__(self, options: RLOptions, run: TrainConfig, device: torch.device):
        super().__init__(options, run, device)
        self.batch = run.batch_size
        self.envs = make_envs(options, self.batch, device)
        env = self.envs.unwrapped
        self.native = isinstance(env, TorchBatchedEnv)
        # What the env says about itself; a gymnasium env behind the adapter has neither a lag nor a success.
        self.lag = env.lag if self.native else None
        self.success_reward = env.success_reward if self.native else None
        self.observation_space = self.envs.single_observation_space
        self.num_actions = int(self.envs.single_action_space.n)
        self.observation_size = gymnasium.spaces.flatdim(self.observation_space)
        self.input_size = (
            self.observation_size + (self.num_actions if options.prev_action else 0) + (1 if options.prev_reward else 0)
        )
        self.context_size = self.input_size if options.sg_context == "next_input" else 0
        self._lookback = None  # past_inputs: the latest inputs of each boundary's episode, across windows
        if options.sg_context == "past_inputs":
            self._lookback = EpisodeLookback(options.context_steps or run.horizon, self.batch, self.input_size, device)
            self.context_size = self._lookback.size
        self._start_episodes(seed=run.seed)
        # --advantage-scale running: the running mean of the valid steps' squared advantage (before the bias
        # correction) and the number of windows in it; kept on the device, so no window waits for the host.
        self._advantage_moment = torch.zeros((), device=device)
        self._advantage_windows = 0
        # episode statistics per window, on the device: [episodes ended, sum of returns, sum of lengths, successes]
        self._window_stats: list[Tensor] = []

    def _start_episodes(self, seed: int) -> None:
        observation, _ = self.envs.reset(seed=seed)
        self._observation = flatten_observation(self.observation_space, observation)
        self._prev_action = torch.zeros(self.batch, dtype=torch.long, device=self.device)
        self._prev_reward = torch.zeros(self.batch, device=self.device)
        self._first = torch.ones(self.batch, dtype=torch.bool, device=self.device)  # reset before the next step
        self._pseudo = torch.zeros(self.batch, dtype=torch.bool, device=self.device)  # the next step only resets

    def build_head(self, core_output_size: int) -> ActorCriticHead:
        options = self.options
        return ActorCriticHead(
            core_output_size, self.num_actions, options.value_coef, options.entropy_coef, options.sg_policy_weight
        )

    # ----- acting -----------------------------------------------------------------------------------

    def _input(self, dtype: torch.dtype) -> Tensor:
        """``x = [obs, one_hot(prev action), prev reward]`` ``[B, F]``; previous action/reward 0 on a first step."""
        parts = [self._observation]
        keep = (~self._first).to(torch.float32).unsqueeze(-1)
        if self.options.prev_action:
            parts.append(F.one_hot(self._prev_action, self.num_actions).to(torch.float32) * keep)
        if self.options.prev_reward:
            parts.append(self._prev_reward.to(torch.float32).unsqueeze(-1) * keep)
        return torch.cat(parts, dim=-1).to(dtype)

    @staticmethod
    def _act(actor: Actor, x: Tensor, state: State, reset: Tensor) -> tuple[tuple[Tensor, Tensor], State]:
        """One step of the model from ``state``, reset first where ``reset``: ``((logits [B, A], value [B]), state)``."""
        (logits, values), state = actor.act(x.unsqueeze(0), state, reset.unsqueeze(0))
        return (logits[0], values[0]), state

    @torch.no_grad()
    def next_window(self, actor: Actor, state: State) -> tuple[Window, State]:
        horizon, batch, device = self.run.horizon, self.batch, self.device
        dtype = actor.dtype
        inputs = torch.empty(horizon, batch, self.input_size, device=device, dtype=dtype)
        resets = torch.empty(horizon, batch, dtype=torch.bool, device=device)
        valid = torch.empty(horizon, batch, dtype=torch.bool, device=device)
        actions = torch.empty(horizon, batch, dtype=torch.long, device=device)
        rewards = torch.empty(horizon, batch, device=device, dtype=dtype)
        terminated = torch.empty(horizon, batch, dtype=torch.bool, device=device)
        truncated = torch.empty(horizon, batch, dtype=torch.bool, device=device)
        values = torch.empty(horizon, batch, device=device, dtype=dtype)
        episode_returns = torch.empty(horizon, batch, device=device)
        episode_lengths = torch.empty(horizon, batch, device=device)
        ended = torch.empty(horizon, batch, dtype=torch.bool, device=device)
        acting = state
        for t in range(horizon):
            x = self._input(dtype)
            inputs[t], resets[t], valid[t] = x, self._first, ~self._pseudo
            (logits, value), acting = self._act(actor, x, acting, self._first)
            probs = torch.softmax(logits.float(), dim=-1)
            action = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)
            observation, reward, term, trunc, infos = self.envs.step(action)
            reward = reward * self.options.reward_scale if self.options.reward_scale != 1.0 else reward
            actions[t], rewards[t], terminated[t], truncated[t], values[t] = action, reward, term, trunc, value
            ended[t] = infos["_episode"]
            episode_returns[t] = infos["episode"]["r"]
            episode_lengths[t] = infos["episode"]["l"]
            self._observation = flatten_observation(self.observation_space, observation)
            self._prev_action, self._prev_reward = action, reward
            self._first, self._pseudo = self._pseudo, term | trunc
        self.acting_state = acting  # where acting ended: the engine's training forward ends there too
        # V of the step after the window: the bootstrap of G_T (one extra step, its state discarded)
        next_input = self._input(dtype)
        (_, bootstrap), _ = self._act(actor, next_input, acting, self._first)
        opts = self.options
        returns = lambda_returns(rewards, values, bootstrap, terminated, truncated, valid, opts.gamma, opts.td_lambda)
        advantages = (returns - values) * valid.to(dtype)
        if opts.advantage_scale == "running":
            advantages = advantages / self._running_advantage_scale(advantages, valid)
        targets = {  # what ActorCriticHead.loss reads
            "actions": actions,
            "valid": valid,
            "returns": returns,
            "advantages": advantages,
        }
        self._record(ended, episode_returns, episode_lengths, rewards)
        next_resets = self._first | self._pseudo
        # cDNI: M at a boundary reads the input of the step after it (for s_0, this window's first input), or the
        # latest inputs of its episode up to it.
        context = next_context = None
        if self._lookback is not None:
            context, next_context = self._lookback.advance(inputs, resets)
        elif self.context_size:
            context, next_context = inputs[0], next_input
        return Window(inputs, targets, valid.to(dtype), resets, next_resets, context, next_context), state

    def _running_advantage_scale(self, advantages: Tensor, valid: Tensor) -> Tensor:
        """The root of the running mean of ``advantages**2`` over valid steps, this window ``[T, B]`` included, as
        a 0-dim tensor: a scale that moves slowly, so the loss keeps one scale from window to window (a
        per-window normalisation would not), with the bias correction that makes the first windows' mean exact.
        """
        decay = self.options.advantage_decay
        mean_square = advantages.float().pow(2).sum() / valid.sum().clamp_min(1)
        self._advantage_moment = decay * self._advantage_moment + (1.0 - decay) * mean_square
        self._advantage_windows += 1
        corrected = self._advantage_moment / (1.0 - decay**self._advantage_windows)
        # the floor only keeps a window of all-zero advantages (nothing valid yet) from dividing 0 by 0
        return corrected.sqrt().clamp_min(1e-8).to(advantages.dtype)

    # ----- statistics -----------------------------------------------------------------------------

    def _record(self, ended: Tensor, returns: Tensor, lengths: Tensor, rewards: Tensor) -> None:
        ended_f = ended.to(torch.float32)
        if self.success_reward is None:
            success = torch.zeros_like(ended_f)
        else:  # rewards are scaled by reward_scale > 0, so is the threshold
            success = (ended & (rewards > self.success_reward * self.options.reward_scale)).to(torch.float32)
        stats = torch.stack([ended_f.sum(), (returns * ended_f).sum(), (lengths * ended_f).sum(), success.sum()])
        self._window_stats.append(stats)

    def observe(self, metrics: dict[str, Tensor], private: dict[str, Tensor]) -> dict[str, Ratio]:
        """The episodes that ended in the last window, as ratios the logger combines until its next point
        (over every rank's environments): the mean return, length and success of those episodes."""
        count, total_return, total_length, successes = self._window_stats[-1]
        scalars = {
            "charts/episodic_return": Ratio(total_return, count),
            "charts/episodic_length": Ratio(total_length, count),
        }
        if self.success_reward is not None:
            scalars["charts/success_rate"] = Ratio(successes, count)
        return scalars

    def final_stats(self) -> dict[str, float]:
        """Episodes that ended in the last ``final_fraction`` of the windows run so far."""
        if not self._window_stats:
            return {}
        windows = len(self._window_stats)
        last = max(1, math.ceil(self.options.final_fraction * windows))
        count, total_return, total_length, successes = sum_over_ranks(
            torch.stack(self._window_stats[-last:]).sum(0)
        ).tolist()
        out = {
            "final_windows": float(last),
            "final_episodes": count,
            "return": total_return / count if count else math.nan,
            "episode_length": total_length / count if count else math.nan,
        }
        if self.success_reward is not None:
            out["success_rate"] = successes / count if count else math.nan
        return out

    def progress(self, scalars: dict[str, float]) -> dict[str, str]:
        """The mean return (and success rate) of the episodes that ended before the last log point."""
        shown = {}
        if "charts/episodic_return" in scalars:
            shown["return"] = f"{scalars['charts/episodic_return']:.3g}"
        if "charts/success_rate" in scalars:
            shown["success"] = f"{scalars['charts/success_rate']:.2f}"
        return shown

    def report(self, core, head, options: EvalOptions) -> dict[str, Any]:
        """Mean return, length and success rate of the first ``options.episodes`` episodes (or a few more: every
        window acts ``T`` steps in all ``B`` environments) of the trained policy, from environments reset with
        ``options.seed``; actions are sampled from the policy as in training."""
        actor = Actor(core, head)
        self.generator.manual_seed(options.seed)
        self._window_stats = []
        self._start_episodes(seed=options.seed)
        state = actor.initial_state(self.batch, self.device)
        episodes, windows = 0.0, 0
        max_windows = max(1000, 100 * options.episodes)  # a policy whose episodes never end must still stop
        while episodes < options.episodes and windows < max_windows:
            self.next_window(actor, state)
            state = self.acting_state
            episodes += float(self._window_stats[-1][0])
            windows += 1
        count, total_return, total_length, successes = torch.stack(self._window_stats).sum(0).tolist()
        out: dict[str, Any] = {
            "env": self.options.env,
            "episodes": int(count),
            "environment_steps": windows * self.run.horizon * self.batch,
            "return": total_return / count if count else math.nan,
            "episode_length": total_length / count if count else math.nan,
        }
        if self.success_reward is not None:
            out["success_rate"] = successes / count if count else math.nan
        return out

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"env": self.options.env, **self.final_stats()}
        if self.lag is not None:
            out["lag"] = float(self.lag)
        return out

    # ----- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Generator, acting carry, statistics, and for torch-native envs the envs' whole state (exact resume).

        A gymnasium env behind the adapter (popgym...) cannot be saved: on resume its episodes restart.
        """
        out = {
            **super().state_dict(),
            "window_stats": torch.stack(self._window_stats) if self._window_stats else None,
            "lookback": self._lookback.state_dict() if self._lookback is not None else None,
            "advantage_moment": self._advantage_moment.clone(),
            "advantage_windows": self._advantage_windows,
        }
        if self.native:
            out["carry"] = {
                name: getattr(self, name).clone()
                for name in ("_observation", "_prev_action", "_prev_reward", "_first", "_pseudo")
            }
            out["env"] = self.envs.unwrapped.state_dict()
            out["episode_statistics"] = self.envs.state_dict()
        return out

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        stats = state["window_stats"]
        self._window_stats = [] if stats is None else list(stats.to(self.device).unbind(0))
        if self._lookback is not None:
            self._lookback.load_state_dict(state.get("lookback"))
        if "advantage_moment" in state:  # absent from checkpoints saved before --advantage-scale existed
            self._advantage_moment = state["advantage_moment"].to(self.device).clone()
            self._advantage_windows = int(state["advantage_windows"])
        if self.native and "env" in state:
            self.envs.unwrapped.load_state_dict(state["env"])
            self.envs.load_state_dict(state["episode_statistics"])
            for name, value in state["carry"].items():
                setattr(self, name, value.to(self.device).clone())
        else:
            # New episodes, from a seed that depends on how far the run got; the carried core state is
            # reset at their first step.
            self._start_episodes(seed=self.run.seed + 1_000_003 * len(self._window_stats))
