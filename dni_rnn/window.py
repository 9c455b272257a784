"""``Window``: one window of a stream, as every task hands it to the engine."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor


class Window(NamedTuple):
    """One window of a stream, as every task hands it to the engine.

    inputs: ``[T, B, ...]`` (``[B, T, ...]`` for a ``batch_first`` core).
    targets: whatever the task's loss reads (a tensor, a dict...).
    loss_mask: ``[T, B]`` float/bool, steps that carry loss, or None.
    resets: ``[T, B]`` bool, the state is reset before that step, or None.
    next_resets: ``[B]`` bool, the step after the window starts a new sequence/episode or the stream
        ends: no synthetic gradient is injected there. None means every stream continues.
    context: ``[B, C]`` conditioning input of ``M`` for this window's start (cDNI), or None.
    next_context: ``[B, C]`` the same for the next window's start (used at ``s_T``), or None.
    """

    inputs: Tensor
    targets: Any
    loss_mask: Tensor | None = None
    resets: Tensor | None = None
    next_resets: Tensor | None = None
    context: Tensor | None = None
    next_context: Tensor | None = None
