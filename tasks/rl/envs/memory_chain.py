"""bsuite's MemoryChain (experiment ``memory_len``) as a batched torch environment."""

from __future__ import annotations

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from dni_rnn_tasks.rl.envs.base import TorchBatchedEnv

__all__ = ["MemoryChain"]


class MemoryChain(TorchBatchedEnv):
    """bsuite's MemoryChain (experiment ``memory_len``) for a batch of environments.

    An episode lasts ``memory_length + 1`` steps. The observation ``(num_bits + 2,)`` float32 is
    bsuite's ``(1, num_bits + 2)`` observation without its leading singleton axis, in bsuite's layout
    ``[time, query, context_1, ..., context_n]``:

    - ``time = 1 - t / memory_length`` on every step,
    - ``query`` (the index of the context bit asked for; always 0 when ``num_bits = 1``) only at
      ``t = memory_length - 1``,
    - ``context = 2 * bits - 1`` (values +-1) only at ``t = 0``,

    where ``t`` is bsuite's internal timestep. As in bsuite, ``step`` returns the observation of the
    timestep *before* it advances the clock: ``reset`` and the first ``step`` both show ``t = 0``
    (the context), the ``k``-th step shows ``t = k - 1``, and the query (``t = memory_length - 1``)
    is shown by step ``memory_length``. The action of step ``memory_length + 1`` is the decision:
    reward ``+1`` if it equals the queried context bit (action 0 or 1), ``-1`` otherwise, and the
    episode terminates; every other step gives reward 0. The decision is taken ``memory_length``
    observations after the context was first shown.

    Args:
        num_envs: ``B``. Default: 1.
        memory_length: bsuite's ``memory_length`` (the lag). Default: 10.
        num_bits: context bits. Default: 1 (bsuite's memory_len experiment).
        device: Default: ``"cpu"``.
        autoreset_mode: Default: ``AutoresetMode.NEXT_STEP``.

    Spaces: observation ``Box((num_bits + 2,), float32)``, action ``Discrete(2)``.
    """

    state_tensors = ("timestep", "context", "query")

    def __init__(
        self,
        num_envs: int = 1,
        memory_length: int = 10,
        num_bits: int = 1,
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if memory_length < 1 or num_bits < 1:
            raise ValueError(f"MemoryChain: memory_length and num_bits must be >= 1, got {memory_length}, {num_bits}")
        low = np.array([0.0, 0.0] + [-1.0] * num_bits, dtype=np.float32)
        high = np.array([1.0, num_bits - 1] + [1.0] * num_bits, dtype=np.float32)
        super().__init__(
            num_envs,
            gymnasium.spaces.Box(low, high, dtype=np.float32),
            gymnasium.spaces.Discrete(2),
            device,
            autoreset_mode,
        )
        self.memory_length = memory_length
        self.num_bits = num_bits
        B, dev = num_envs, self.device
        # bsuite computes 1 - t / L in float64 and stores it as float32: tabulate it the same way.
        self._time_feature = torch.tensor(
            [1.0 - t / memory_length for t in range(memory_length + 1)],
            dtype=torch.float32,
            device=dev,
        )
        self.timestep = torch.zeros(B, dtype=torch.long, device=dev)  # bsuite's self._timestep
        self.context = torch.zeros(B, num_bits, dtype=torch.long, device=dev)  # bits in {0, 1}
        self.query = torch.zeros(B, dtype=torch.long, device=dev)  # index of the bit to recall
        self._zeros = torch.zeros(B, dtype=torch.long, device=dev)
        self._no_truncation = torch.zeros(B, dtype=torch.bool, device=dev)
        self._uniform_bits = torch.empty(B, num_bits, dtype=torch.float32, device=dev)
        self._reward_if_right = torch.tensor(1.0, dtype=torch.float32, device=dev)
        self._reward_if_wrong = torch.tensor(-1.0, dtype=torch.float32, device=dev)

    @property
    def lag(self) -> int:
        """``memory_length``: the decision comes that many observations after the context."""
        return self.memory_length

    @property
    def success_reward(self) -> float:
        """0: the decision's reward is +1 (the right bit) or -1."""
        return 0.0

    def _sample_episode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw a new episode's content for every sub-environment: context ``(B, n)``, query ``(B,)``."""
        context = self._uniform_bits.uniform_(generator=self.generator) < 0.5
        if self.num_bits == 1:
            query = self._zeros  # randint(1) is always 0
        else:
            query = torch.randint(self.num_bits, (self.num_envs,), generator=self.generator, device=self.device)
        return context, query

    def _restart(self, mask):
        context, query = self._sample_episode()
        torch.where(mask[:, None], context, self.context, out=self.context)
        if self.num_bits > 1:
            torch.where(mask, query, self.query, out=self.query)
        self.timestep.masked_fill_(mask, 0)

    def _transition(self, actions):
        decisive = self.timestep == self.memory_length
        if self.num_bits == 1:
            target = self.context[:, 0]
        else:
            target = self.context.gather(1, self.query[:, None]).squeeze(1)
        reward = torch.where(actions == target, self._reward_if_right, self._reward_if_wrong)
        reward.masked_fill_(~decisive, 0.0)  # only the decision is rewarded
        self.timestep.add_(1)
        return reward, decisive, self._no_truncation

    def _observe(self):
        # bsuite builds a step's observation before it advances its clock: after the k-th step it
        # shows timestep k - 1, and after reset timestep 0, so t = 0 is shown twice.
        shown = (self.timestep - 1).clamp_(0, self.memory_length)
        observation = torch.empty(self.num_envs, self.num_bits + 2, dtype=torch.float32, device=self.device)
        torch.index_select(self._time_feature, 0, shown, out=observation[:, 0])
        if self.num_bits == 1:
            observation[:, 1] = 0.0  # the query, randint(1), is always 0
        else:
            observation[:, 1] = self.query * (shown == self.memory_length - 1)
        observation[:, 2:] = (2 * self.context - 1) * (shown == 0)[:, None]
        return observation
