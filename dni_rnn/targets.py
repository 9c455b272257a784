"""n-step and lambda targets for ``M``: real backprop over the next windows, bootstrapped after them.

The paper's target for ``M`` at a window start ``s_0^j`` is the one-window bootstrap

    y_j = B dL_j/ds_0^j + gamma J_j^T m_{j+1},        m_{j+1} = M(s_0^{j+1})  (stopgrad)

This module forms the lambda-weighted target over ``n`` windows (``gamma`` the bootstrap discount):

    e_j = B dL_j/ds_0^j + gamma J_j^T [ (1 - lambda) m_{j+1} + lambda e_{j+1} ],    e_{j+n-1} = y_{j+n-1}

With ``lambda = 1`` it is the n-step target (real gradients of ``n`` windows' losses, bootstrapped at the
n-th boundary); ``n = 1`` or ``lambda = 0`` is the paper's. Unrolled, ``e_j`` is the gradient at ``s_0^j`` of
one objective over the chain of windows ``j .. j+n-2`` run from ``s_0^j``::

    sum_i (gamma lambda)^i B L_{j+i}  +  sum_{i>=1} gamma^i lambda^(i-1) (1 - lambda) <m_{j+i}, s_0^{j+i}>
                                      +  (gamma lambda)^(n-1) <y_{j+n-1}, s_0^{j+n-1}>

so it costs one forward and one state-only backward over ``n - 1`` windows, re-run from the stored
``s_0^j`` with the parameters of the moment (the graphs of earlier windows saved weights that the
optimiser has since changed in place). Identities (tested): with the true future gradient in place of every
``m`` and of ``y``, ``e_j`` is the true gradient at ``s_0^j``; with ``M == 0`` the core's updates are truncated
BPTT whatever the target, since the target only trains ``M``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from dni_rnn.state import State, flatten_grads, flatten_state, leaf_state, state_tensors


def lambda_target(
    run_window: Callable[[State, object], tuple[Tensor, State]],
    start_state: State,
    windows: Sequence,
    bootstrap: Callable[[Tensor, object], Tensor],
    newest_target: Tensor,
    discount: float,
    lam: float,
) -> Tensor:
    """The lambda target ``e_j`` ``[B, S]`` at ``start_state`` (``s_0^j``, detached).

    Args:
        run_window: ``(state, window) -> (loss, next_state)``, the core and loss on one window (``loss`` the
            batch-mean scalar every window uses).
        start_state: ``s_0^j``.
        windows: the ``n - 1`` windows ``j .. j+n-2`` (each with ``next_resets`` ``[B]`` or None).
        bootstrap: ``(flat_state [B, S], window) -> m [B, S]``, ``M`` at the boundary after ``window``
            (stopgrad, zero where the next step starts a new episode).
        newest_target: ``y_{j+n-1}`` ``[B, S]``, the one-window target at the boundary after the last window.
        discount: ``gamma``; lam: ``lambda`` in ``[0, 1]``.
    """
    start = leaf_state(start_state)
    state, objective = start, 0.0
    batch = newest_target.shape[0]
    for i, window in enumerate(windows):
        loss, state = run_window(state, window)
        objective = objective + (discount * lam) ** i * batch * loss
        flat = flatten_state(state)
        weight_m = discount ** (i + 1) * lam**i * (1.0 - lam)
        if weight_m:
            objective = objective + weight_m * (bootstrap(flat, window) * flat).sum()
    # The newest target is d/ds_0 of the newest window: exactly 0 for entries reset at its step 0, so nothing
    # crosses a boundary where a new episode starts without a mask here.
    objective = objective + (discount * lam) ** len(windows) * (newest_target.detach() * flatten_state(state)).sum()
    grads = torch.autograd.grad(objective, state_tensors(start), allow_unused=True)
    return flatten_grads(grads, start)
