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


def same_episode(resets: Tensor) -> Tensor:
    """``[T, B]`` bool: True for the steps that belong to the episode of the window's last step (time-major ``resets``)."""
    episode = resets.cumsum(0)  # (T, B) int64 (a bool cumsum needs no conversion): each step's episode
    return episode == episode[-1:]


def first_resets(window: Window, batch_first: bool = False) -> Tensor | None:
    """``[B]`` bool: entries reset before step 0 (their ``s_0`` has no future to predict), or None."""
    if window.resets is None:
        return None
    return window.resets[:, 0] if batch_first else window.resets[0]


def check_window(window: Window, batch: int, batch_first: bool = False, context_size: int = 0) -> None:
    """Raise a ``ValueError`` naming the expected and the actual shape when ``window`` does not fit a state of
    batch size ``batch`` (and, with ``context_size > 0``, a conditioned M). Python comparisons of shapes only."""
    inputs = window.inputs
    layout = "[B, T, ...]" if batch_first else "[T, B, ...]"
    if inputs.dim() < 2 or inputs.shape[0 if batch_first else 1] != batch:
        raise ValueError(f"expected inputs {layout} with B={batch} (the state's batch), got {list(inputs.shape)}")
    steps = inputs.shape[1] if batch_first else inputs.shape[0]
    time_major = (steps, batch)
    expected = {
        "resets": time_major[::-1] if batch_first else time_major,
        "loss_mask": time_major[::-1] if batch_first else time_major,
        "next_resets": (batch,),
    }
    for name, shape in expected.items():
        value = getattr(window, name)
        if value is not None and tuple(value.shape) != shape:
            raise ValueError(f"expected {name} of shape {list(shape)}, got {list(value.shape)}")
    for name in ("context", "next_context"):
        value = getattr(window, name)
        if context_size and (value is None or tuple(value.shape) != (batch, context_size)):
            got = None if value is None else list(value.shape)
            raise ValueError(f"expected {name} of shape {[batch, context_size]} (a conditioned M), got {got}")
