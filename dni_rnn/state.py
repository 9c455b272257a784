"""The carried recurrent state and the few operations the engine needs on it.

A state is either one tensor (GRU, vanilla RNN: ``[num_layers, B, H]``) or a NamedTuple of such
tensors (LSTM: ``LSTMState(hidden, cell)``). The batch is always dimension 1, whatever the core's
``batch_first`` says, exactly as in ``torch.nn.LSTM``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Union

import torch
from torch import Tensor


class LSTMState(NamedTuple):
    """State of an LSTM core; unpacks like torch's ``(h, c)``.

    hidden: ``[num_layers, B, H_out]``; cell: ``[num_layers, B, H]``.
    """

    hidden: Tensor
    cell: Tensor


State = Union[Tensor, tuple]


def state_tensors(state: State) -> tuple[Tensor, ...]:
    """The tensors of a state, in a fixed order (``hidden`` before ``cell``)."""
    return (state,) if isinstance(state, Tensor) else tuple(state)


def map_state(fn: Callable[..., Tensor], *states: State) -> State:
    """Apply ``fn`` tensor-wise to one or more states of the same structure."""
    first = states[0]
    if isinstance(first, Tensor):
        return fn(*states)
    values = [fn(*parts) for parts in zip(*states)]
    # A NamedTuple (LSTMState) takes its fields as arguments; a plain tuple, as torch's nn.LSTM returns, one iterable.
    return type(first)(*values) if hasattr(first, "_fields") else type(first)(values)


def detach_state(state: State) -> State:
    """``state`` out of any graph. A tensor already out of one is returned as it is, the caller's own tensor, not a
    new alias of it (a ``detach`` is an op of its own, and the carried state of the previous window is already
    detached); like ``detach``, the result shares storage with the input either way."""
    return map_state(lambda t: t.detach() if t.requires_grad else t, state)


def leaf_state(state: State) -> State:
    """A detached copy of ``state`` that requires grad, so a backward pass leaves ``d/ds_0`` in ``.grad``."""
    return map_state(lambda t: t.detach().requires_grad_(True), state)


def _batch_major(t: Tensor) -> Tensor:
    """``[layers, B, H] -> [B, layers * H]`` (a view for one layer)."""
    return t.permute(1, 0, 2).reshape(t.shape[1], -1)


def flatten_state(state: State) -> Tensor:
    """``[B, S]``: every layer of every state tensor side by side (for an LSTM ``[h_1..h_L, c_1..c_L]``)."""
    return torch.cat([_batch_major(t) for t in state_tensors(state)], dim=-1)


def unflatten_state(flat: Tensor, like: State) -> State:
    """Inverse of :func:`flatten_state`: split ``flat [B, S]`` into a state shaped like ``like``."""
    parts = iter(torch.split(flat, [t.shape[0] * t.shape[2] for t in state_tensors(like)], dim=-1))
    return map_state(lambda t: next(parts).reshape(t.shape[1], t.shape[0], t.shape[2]).permute(1, 0, 2), like)


def state_size(state: State) -> int:
    """``S``, the width of the flattened state."""
    return sum(t.shape[0] * t.shape[2] for t in state_tensors(state))


def reset_state(state: State, initial: State, reset: Tensor) -> State:
    """``where(reset, initial, state)`` per batch entry; ``reset`` is ``[B]`` bool.

    No gradient crosses a reset: for the reset entries the output does not depend on ``state``.
    """
    mask = reset.view(1, -1, 1)  # (1, B, 1): broadcast over layers and hidden units
    return map_state(lambda init, current: torch.where(mask, init, current), initial, state)


def flatten_grads(grads, like: State) -> Tensor:
    """``[B, S]``: gradients w.r.t. the tensors of ``like`` (in ``state_tensors`` order), flattened
    like :func:`flatten_state`; ``None`` (the loss did not depend on that tensor) counts as zeros."""
    return torch.cat(
        [_batch_major(g if g is not None else torch.zeros_like(t)) for g, t in zip(grads, state_tensors(like))], dim=-1
    )
