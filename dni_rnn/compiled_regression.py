"""M's regression for a linear ``M`` under its default Adam, as two ``torch.compile``'d functions (``--sg-compile``).

Eager, one regression step of ``M`` is some thirty small kernels: the product at ``s_0``, the masks, the fused
squared error and its backward through autograd, the two norms of the clipping, its scaling, the Adam step. Their
fixed costs weigh most at small T. Written out for a linear ``M`` (``m = W x + b``), the step is::

    e      = keep * (W x + b - target)                   # [B, S], rows left out are 0
    loss   = sum(e^2) / B                                 # the eager path's losses/synthetic_grad
    grad_W = (2 / B) e^T x,   grad_b = (2 / B) sum_b e     # the gradient autograd computes
    clip to max norm c (torch's rule: factor min(1, c / (norm + 1e-6))), then Adam (torch's update)

and inductor fuses it into a few kernels. :func:`regression_error` runs before the engine's finiteness check (its
loss is in the guard); :func:`adam_step` after it. The Adam moments and step count are the torch optimiser's own
state tensors, updated in place, so checkpoints are the same as the eager path's and either path resumes the
other's. Same arithmetic as the eager path, in another order: equal to float rounding (tested), not bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor


def regression_error(weight: Tensor, bias: Tensor, inputs: Tensor, target: Tensor, keep: Tensor | None):
    """``(loss, e)``: ``inputs`` ``[B, S_in]``, ``target`` ``[B, S]``, ``keep`` ``[B, 1]`` bool or None."""
    error = torch.addmm(bias, inputs, weight.t()) - target
    if keep is not None:
        error = torch.where(keep, error, 0.0)
    return error.square().sum() / inputs.shape[0], error


def adam_step(
    params: tuple[Tensor, Tensor],
    moments: tuple[Tensor, Tensor],
    squares: tuple[Tensor, Tensor],
    steps: tuple[Tensor, Tensor],
    inputs: Tensor,
    error: Tensor,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    max_norm: float | None,
) -> None:
    """The gradient of :func:`regression_error`'s loss, clipped, and one Adam step on ``params`` ``(W, b)``, in
    place (``moments``, ``squares``: Adam's ``exp_avg``, ``exp_avg_sq``; ``steps``: its 0-d step counts, one per
    parameter as torch keeps them, always equal)."""
    scale = 2.0 / inputs.shape[0]
    grads = (scale * (error.t() @ inputs), scale * error.sum(0))
    if max_norm is not None:
        norm = torch.sqrt(grads[0].square().sum() + grads[1].square().sum())
        factor = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
        grads = (grads[0] * factor, grads[1] * factor)
    for step in steps:
        step.add_(1.0)
    correction1, correction2 = 1 - betas[0] ** steps[0], 1 - betas[1] ** steps[0]
    for param, moment, square, grad in zip(params, moments, squares, grads):
        moment.lerp_(grad, 1 - betas[0])
        square.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
        denom = (square.sqrt() / torch.sqrt(correction2)).add_(eps)
        param.addcdiv_(moment, denom * (correction1 / lr), value=-1.0)


_compiled: dict = {}


def compiled(function):
    """``torch.compile(function)``, built on first use (importing the toolkit compiles nothing)."""
    if function not in _compiled:
        _compiled[function] = torch.compile(function)
    return _compiled[function]


def adam_settings(optimizer: torch.optim.Optimizer, params: list[Tensor]) -> tuple[float, tuple, float]:
    """``(lr, betas, eps)`` of ``optimizer`` if it is a plain Adam over exactly ``params`` (one group, no weight
    decay, amsgrad, maximize or differentiable): what :func:`adam_step` computes. ``ValueError`` otherwise."""
    if type(optimizer) is not torch.optim.Adam or len(optimizer.param_groups) != 1:
        raise ValueError(f"--sg-compile needs M's default Adam (one group), got {type(optimizer).__name__}")
    group = optimizer.param_groups[0]
    if [id(p) for p in group["params"]] != [id(p) for p in params]:
        raise ValueError("--sg-compile: M's optimiser must hold exactly M's weight and bias")
    if group["weight_decay"] or group["amsgrad"] or group["maximize"] or group.get("differentiable"):
        raise ValueError("--sg-compile needs Adam without weight decay, amsgrad, maximize or differentiable")
    return float(group["lr"]), tuple(group["betas"]), float(group["eps"])


def adam_state(optimizer: torch.optim.Optimizer, param: Tensor) -> dict:
    """``optimizer``'s state for ``param``, created as torch's fused Adam creates it when it is missing."""
    state = optimizer.state[param]
    if not state:
        state["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
        state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
    return state
