"""CartPole observing only positions, as a batched torch environment (a short-memory control task)."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from dni_rnn_tasks.rl.envs.base import TorchBatchedEnv

__all__ = ["PositionOnlyCartPole"]


class PositionOnlyCartPole(TorchBatchedEnv):
    """Classic CartPole (gymnasium's ``CartPoleEnv`` dynamics, Euler integration) observing only
    ``[x, theta]``: the velocities must be inferred from two consecutive observations, a
    short-memory control task.

    State ``(B, 4)`` = ``[x, x_dot, theta, theta_dot]``, started uniformly in ``(-0.05, 0.05)``. Reward
    1 on every step, the terminating one included (CartPole-v1). Terminated when ``|x| > 2.4`` or
    ``|theta| > 12 degrees``; truncated when the episode reaches ``max_episode_steps`` steps (as
    gymnasium's ``TimeLimit``, independently of termination).

    Args:
        num_envs: ``B``. Default: 1.
        max_episode_steps: Default: 500.
        device: Default: ``"cpu"``.
        dtype: dtype of the physical state (gymnasium integrates in float64). Default: float32.
        autoreset_mode: Default: ``AutoresetMode.NEXT_STEP``.

    Spaces: observation ``Box((2,), float32)`` ``[x, theta]``, action ``Discrete(2)`` (0 pushes left).
    """

    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5  # half the pole's length
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02  # seconds per step
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    state_tensors = ("state", "elapsed_steps")

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int = 500,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        high = np.array([self.x_threshold * 2, self.theta_threshold_radians * 2], dtype=np.float32)
        super().__init__(
            num_envs,
            gymnasium.spaces.Box(-high, high, dtype=np.float32),
            gymnasium.spaces.Discrete(2),
            device,
            autoreset_mode,
        )
        self.max_episode_steps = max_episode_steps
        self.state = torch.zeros(num_envs, 4, dtype=dtype, device=self.device)  # (B, 4)
        self.elapsed_steps = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._start_state = torch.empty(num_envs, 4, dtype=dtype, device=self.device)

    def _observe(self):
        return self.state[:, 0::2].to(torch.float32, copy=True)  # (B, 2) [x, theta]

    def _sample_start_state(self) -> torch.Tensor:
        """A start state ``(B, 4)`` for every sub-environment, uniform in ``(-0.05, 0.05)``."""
        return self._start_state.uniform_(-0.05, 0.05, generator=self.generator)

    def _restart(self, mask):
        self.state = torch.where(mask[:, None], self._sample_start_state(), self.state)
        self.elapsed_steps.masked_fill_(mask, 0)

    def _transition(self, actions):
        x, x_dot, theta, theta_dot = self.state.unbind(1)
        force = (actions.to(self.state.dtype) * 2.0 - 1.0) * self.force_mag  # action 1 pushes right
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + self.polemass_length * theta_dot.square() * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta.square() / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        # Euler: positions move with the old velocities
        self.state = torch.stack(
            [
                x + self.tau * x_dot,
                x_dot + self.tau * xacc,
                theta + self.tau * theta_dot,
                theta_dot + self.tau * thetaacc,
            ],
            dim=1,
        )
        x, theta = self.state[:, 0], self.state[:, 2]
        terminated = (x.abs() > self.x_threshold) | (theta.abs() > self.theta_threshold_radians)
        self.elapsed_steps.add_(1)
        truncated = self.elapsed_steps >= self.max_episode_steps
        reward = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)
        return reward, terminated, truncated
