"""The latest inputs of each stream's current episode, as a context for M (cDNI ``past_inputs``).

A task that conditions M on what the core has read keeps one :class:`EpisodeLookback` and advances it once a
window: M at ``s_0`` reads the context before the window, at ``s_T`` the one after it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dni_rnn.window import same_episode


class EpisodeLookback:
    """The last ``steps`` inputs of every stream's current episode: ``[steps, B, F]``, oldest first, zeros for
    the steps before the episode's start (or before the stream's first step).

    Args:
        steps: K, how many latest inputs are kept (>= 1); they may span many windows.
        batch, features: B and F of the inputs.
    """

    def __init__(self, steps: int, batch: int, features: int, device=None, dtype=None):
        if steps < 1:
            raise ValueError(f"an episode lookback keeps >= 1 steps, got {steps}")
        self.steps = steps
        self.buffer = torch.zeros(steps, batch, features, device=device, dtype=dtype)

    @property
    def size(self) -> int:
        """Width of the flattened context, ``K x F``."""
        return self.buffer.shape[0] * self.buffer.shape[2]

    def flat(self) -> Tensor:
        """``[B, K x F]``: the kept steps of each stream, oldest first."""
        return self.buffer.transpose(0, 1).flatten(1)

    def advance(self, inputs: Tensor, resets: Tensor | None) -> tuple[Tensor, Tensor]:
        """Fold in a window's ``inputs`` ``[T, B, F]`` (time-major; ``resets`` ``[T, B]`` bool: a new episode
        starts at that step). Returns ``(context before the window, context after it)``, each ``[B, K x F]``.
        Steps before a stream's last reset in the window, and every earlier one, belong to an ended episode and
        are zeroed."""
        before = self.flat()
        if resets is None:
            window, earlier = inputs, self.buffer
        else:
            window = torch.where(same_episode(resets).unsqueeze(-1), inputs, 0.0)
            earlier = torch.where(resets.any(0).unsqueeze(-1), 0.0, self.buffer)
        self.buffer = torch.cat([earlier, window.to(self.buffer.dtype)])[-self.steps :]
        return before, self.flat()

    def state_dict(self) -> dict:
        return {"buffer": self.buffer}

    def load_state_dict(self, state: dict | None) -> None:
        """Restore :meth:`state_dict`; None (a checkpoint of a run that kept no lookback, e.g. the parent of a
        branch with another context) leaves the past unseen: zeros."""
        if state is not None:
            self.buffer = state["buffer"].to(self.buffer.device, self.buffer.dtype)
