"""An ``nn.LSTM`` / ``nn.GRU`` run step by step with per-entry resets, compiled: one call for a window whose resets
are scattered over the batch (``--reset-loop compiled``).

The fused kernels cannot reset one entry in the middle of a window, so :class:`~dni_rnn.cores.RNNCore` splits the
window at every step where some entry resets. With resets scattered over a large batch (streaming RL: some
environment ends an episode at nearly every step) that is one kernel call per step, each paying the kernel's
fixed cost. Here the window is a loop over steps inside one ``torch.compile``'d function: each layer's input
products for the whole window in one matmul, then per step the recurrent product and the gates, which inductor
fuses into a few kernels (forward and backward). Same arithmetic as torch's cells, so the outputs and gradients
agree with the split path to float rounding (tested), not bit for bit. The function is specialised to the
window's length (``dynamic=False``): a run sees one or two lengths, each compiled once, ~10-40 s on a CPU.

Torch's gate layouts: LSTM ``i, f, g, o``; GRU ``r, z, n`` with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``
and ``h' = (1 - z) * n + z * h``.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from dni_rnn.state import LSTMState, State


def _projected(inputs: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``inputs @ weight^T + bias`` for every step at once: ``[T, B, F] -> [T, B, G]``."""
    steps, batch = inputs.shape[:2]
    flat = inputs.reshape(steps * batch, -1)
    out = flat @ weight.t() if bias is None else torch.addmm(bias, flat, weight.t())
    return out.view(steps, batch, -1)


def lstm_layer(
    inputs: Tensor, h: Tensor, c: Tensor, resets: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih, b_hh
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer over a window: ``inputs`` ``[T, B, F]``, ``h``/``c`` ``[B, H]``, ``resets`` ``[T, B, 1]``
    bool (the state is zeroed before that step: selected, not multiplied, so nothing non-finite crosses it).
    Returns the outputs ``[T, B, H]`` and the last ``h``, ``c``."""
    bias = None if b_ih is None else b_ih + b_hh
    projected = _projected(inputs, w_ih, bias)
    outputs = []
    for t in range(inputs.shape[0]):
        h, c = torch.where(resets[t], 0.0, h), torch.where(resets[t], 0.0, c)
        i, f, g, o = (projected[t] + h @ w_hh.t()).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), h, c


def gru_layer(
    inputs: Tensor, h: Tensor, resets: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih, b_hh
) -> tuple[Tensor, Tensor]:
    """One GRU layer over a window (shapes as :func:`lstm_layer`). Returns the outputs and the last ``h``."""
    projected = _projected(inputs, w_ih, b_ih)
    outputs = []
    for t in range(inputs.shape[0]):
        h = torch.where(resets[t], 0.0, h)
        recurrent = h @ w_hh.t() if b_hh is None else torch.addmm(b_hh, h, w_hh.t())
        x_r, x_z, x_n = projected[t].chunk(3, dim=-1)
        h_r, h_z, h_n = recurrent.chunk(3, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs), h


def run_layers(is_lstm: bool, weights: list[tuple], inputs: Tensor, state: tuple, resets: Tensor):
    """Every layer in turn over the whole window (``weights``: per layer ``(w_ih, w_hh, b_ih, b_hh)``; ``state``:
    ``(h, c)`` or ``(h,)`` of ``[L, B, H]``; ``resets`` ``[T, B, 1]``). Returns outputs and the new state."""
    finals = []
    for layer, params in enumerate(weights):
        if is_lstm:
            inputs, h, c = lstm_layer(inputs, state[0][layer], state[1][layer], resets, *params)
            finals.append((h, c))
        else:
            inputs, h = gru_layer(inputs, state[0][layer], resets, *params)
            finals.append((h,))
    return inputs, tuple(torch.stack(parts) for parts in zip(*finals))


@functools.cache
def compiled_run_layers():
    """:func:`run_layers` under ``torch.compile`` (built on first use, so importing the toolkit compiles nothing)."""
    return torch.compile(run_layers, dynamic=False)


def check_loopable(rnn: nn.RNNBase) -> None:
    """``ValueError`` unless :func:`run_layers` computes what ``rnn`` computes: an LSTM or GRU, no projection,
    no dropout between layers (its random numbers would differ from the fused kernel's)."""
    if rnn.mode not in ("LSTM", "GRU"):
        raise ValueError(f"--reset-loop compiled runs lstm and gru cells, got {rnn.mode}")
    if getattr(rnn, "proj_size", 0):
        raise ValueError("--reset-loop compiled does not run an LSTM with proj_size; use --reset-loop split")
    if rnn.dropout:
        raise ValueError("--reset-loop compiled does not run dropout between layers; use --reset-loop split")


def run_with_resets(rnn: nn.RNNBase, inputs: Tensor, state: State, resets: Tensor) -> tuple[Tensor, State]:
    """``rnn`` over a time-major window with ``resets`` ``[T, B]`` applied before each step (zero initial state),
    in one compiled call. ``state`` as :class:`~dni_rnn.cores.RNNCore` keeps it. Returns outputs ``[T, B, H]``."""
    is_lstm = rnn.mode == "LSTM"
    weights = [
        tuple(getattr(rnn, f"{name}_l{layer}", None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        for layer in range(rnn.num_layers)
    ]
    parts = tuple(state) if is_lstm else (state,)
    outputs, final = compiled_run_layers()(is_lstm, weights, inputs, parts, resets.unsqueeze(-1))
    return outputs, LSTMState(*final) if is_lstm else final[0]
