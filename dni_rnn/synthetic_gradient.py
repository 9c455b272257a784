"""The synthetic-gradient module ``M``: a prediction of the future's gradient at a window boundary."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class SyntheticGradient(nn.Module):
    """Maps the flattened carried state ``[B, S]`` to a predicted gradient ``[B, S]``.

    Linear by default (``hidden_sizes=()``), or an MLP with ReLU hidden layers. The output layer is
    zero-initialised either way, so a fresh module predicts 0 and training starts as exact truncated
    BPTT. With ``context_size > 0`` the module is conditioned on an extra input ``[B, C]`` ("cDNI").

    Args:
        state_size: ``S``, the width of the flattened state.
        hidden_sizes: widths of the hidden layers; empty for a linear module. Default ``()``.
        context_size: ``C``, the width of the conditioning input, 0 for none. Default 0.
    """

    def __init__(self, state_size: int, hidden_sizes: Sequence[int] = (), context_size: int = 0):
        super().__init__()
        self.state_size = state_size
        self.context_size = context_size
        widths = [state_size + context_size, *hidden_sizes]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        output = nn.Linear(widths[-1], state_size)
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)
        self.net = nn.Sequential(*layers, output)

    def forward(self, flat_state: Tensor, context: Tensor | None = None) -> Tensor:
        if self.context_size:
            if context is None:
                raise ValueError("SyntheticGradient: built with context_size > 0 but called without a context")
            flat_state = torch.cat([flat_state, context], dim=-1)  # (B, S + C)
        return self.net(flat_state)
