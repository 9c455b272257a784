"""The ``dni_aux`` loss: the core's outputs predict the synthetic gradient at the window's end (docs/ALGORITHM.md).

With ``g = stopgrad(M(s_T))`` ``[B, S]`` (masked where the next step starts a new episode) and a linear aux
head ``W h + c``, two definitions (``--aux-pooling``; ``mean`` is the default)::

    mean:  aux = sum_b ||W hbar_b + c - g_b||^2 / B,                          # a [B, H] x [H, S] head, 1/T the cost
           hbar_b = sum_t e_t,b h_t,b / sum_t e_t,b
    steps: aux = sum_{t, b} e_t,b ||W h_t,b + c - g_b||^2 / (T * B)          # a [T*B, H] x [H, S] head

where ``e_t,b`` is 1 for the steps of ``s_T``'s episode and 0 for the steps of an entry before its last reset
inside the window (an earlier episode). The aux gradient reaches the core: that is its point.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dni_rnn.window import same_episode

AUX_POOLINGS = ("steps", "mean")


def aux_loss(
    aux_head: nn.Module, outputs: Tensor, boundary_grad: Tensor, resets: Tensor | None, pooling: str = "mean"
) -> Tensor:
    """The ``dni_aux`` loss of one window: ``outputs`` ``[T, B, H]`` (time-major), ``boundary_grad`` ``g``
    ``[B, S]``, ``resets`` ``[T, B]`` bool or None; ``pooling`` ``"steps"`` or ``"mean"`` (module docstring)."""
    # Left-out steps are selected out (torch.where), not multiplied by a float mask: no dtype conversion.
    keep = same_episode(resets) if resets is not None else None  # (T, B)
    if pooling == "mean":
        if keep is None:
            pooled = outputs.mean(0)  # (B, H)
        else:  # s_T's episode always holds the last step: the count is >= 1
            pooled = torch.where(keep.unsqueeze(-1), outputs, 0.0).sum(0) / keep.sum(0).unsqueeze(-1)
        return nn.functional.mse_loss(aux_head(pooled), boundary_grad, reduction="sum") / pooled.shape[0]
    if pooling != "steps":
        raise ValueError(f"aux_loss: expected pooling in {AUX_POOLINGS}, got {pooling!r}")
    prediction = aux_head(outputs)  # (T, B, S)
    error = (prediction - boundary_grad.unsqueeze(0)).pow(2).sum(-1)  # (T, B)
    if keep is not None:
        return torch.where(keep, error, 0.0).sum() / error.numel()
    return error.mean()
