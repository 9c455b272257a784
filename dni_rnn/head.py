"""The model's head: what a task puts on the core's outputs (readout, policy, value) and its loss.

A head is an ``nn.Module`` trained with the core. The engine calls ``head.loss(outputs, window)`` (and,
through the module call, ``head(outputs, window)``: ``forward`` *is* the loss, so that a
``DistributedDataParallel`` wrapper of the head sees every training forward).

Metrics travel on two channels: the tagged scalars a head returns (``losses/...``, ``charts/...``, logged
and averaged over windows) and, under the key :data:`PRIVATE`, a dict of the task's own bookkeeping
(copy's sums of bits and output steps) that the trainer hands to ``Task.observe`` and never logs.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from dni_rnn.engine import Window

PRIVATE = "private"
"""Key of a head's metrics holding ``{name: tensor}``, the task's private bookkeeping (not logged)."""


class Head(nn.Module):
    """Base class of a task's head. Subclasses implement :meth:`loss`; an acting task's head also :meth:`predict`."""

    def loss(self, outputs: Tensor, window: Window) -> tuple[Tensor, dict[str, Any]]:
        """``outputs`` ``[T, B, H]`` -> ``(loss, metrics)``: a scalar normalised alike in every window (e.g. a
        mean over steps and batch) and a dict of detached tensors (plus, optionally, ``metrics[PRIVATE]``)."""
        raise NotImplementedError

    def sg_excluded_loss(self, outputs: Tensor, window: Window) -> Tensor | None:
        """The part of :meth:`loss` (a scalar in the same graph) whose gradient the synthetic gradient leaves
        out: the parameters are trained on the whole loss, but ``M`` learns to predict the future gradient of
        ``loss - excluded`` only (e.g. the value loss without the noisier policy loss). ``None`` (the default):
        ``M`` predicts the whole loss's."""
        return None

    def forward(self, outputs: Tensor, window: Window) -> tuple[Tensor, dict[str, Any]]:
        return self.loss(outputs, window)

    def predict(self, outputs: Tensor) -> Any:
        """What acting reads from ``outputs`` ``[T, B, H]`` (e.g. ``(logits, values)``); only acting tasks need it."""
        raise NotImplementedError(f"{type(self).__name__} does not act")


def split_private(metrics: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(tagged metrics, private bookkeeping)`` of a window's metrics."""
    if PRIVATE not in metrics:
        return metrics, {}
    tagged = {tag: value for tag, value in metrics.items() if tag != PRIVATE}
    return tagged, metrics[PRIVATE]
