"""A closed-form alternative to Adam for a linear ``M``: exponentially weighted least squares.

After window ``t`` with inputs ``x_b = [s_0,b ; c_b ; 1]`` and targets ``delta_0,b`` (kept entries only)::

    A <- forgetting * A + sum_b x_b x_b^T / B          [I, I],   I = S + C + 1
    R <- forgetting * R + sum_b x_b delta_0,b^T / B     [I, S]

and every ``solve_every`` windows ``M``'s weight and bias are set to the ridge solution
``(A + ridge * I)^-1 R``: the linear map that best fits the targets of the last ~``1 / (1 - forgetting)``
windows, with no step size to tune. It tracks a moving target as fast as the forgetting allows, which is
what a learning core asks of ``M`` (with the core frozen, Adam's ``M`` matched an exact least-squares fit).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LeastSquaresFit(nn.Module):
    """Sufficient statistics of the weighted least-squares problem and its solution (see the module docstring).

    Args:
        in_features: ``S + C``, the width of ``M``'s input (state and context).
        out_features: ``S``.
        forgetting: per-window weight of the past statistics, in ``(0, 1]``. Default: 0.99.
        ridge: ``lambda`` of the ridge term. Default: 1e-2.
        solve_every: windows between two solves. Default: 4.
    """

    def __init__(
        self, in_features: int, out_features: int, forgetting: float = 0.99, ridge: float = 1e-2, solve_every: int = 4
    ):
        super().__init__()
        if not 0.0 < forgetting <= 1.0 or not ridge >= 0.0 or solve_every < 1:
            raise ValueError(
                f"need 0 < forgetting <= 1, ridge >= 0, solve_every >= 1; got {forgetting}, {ridge}, {solve_every}"
            )
        self.forgetting, self.ridge, self.solve_every = forgetting, ridge, solve_every
        self.register_buffer("gram", torch.zeros(in_features + 1, in_features + 1))
        self.register_buffer("cross", torch.zeros(in_features + 1, out_features))
        self.updates = 0  # a Python count (no device read per window), saved by get_extra_state

    def accumulate(self, inputs: Tensor, targets: Tensor, keep: Tensor | None = None) -> None:
        """Fold one window in: ``inputs`` ``[B, I - 1]``, ``targets`` ``[B, S]``, ``keep`` ``[B]`` bool or None."""
        with torch.no_grad():
            x = torch.cat([inputs, torch.ones_like(inputs[:, :1])], dim=-1)  # (B, I)
            if keep is not None:
                rows = keep.unsqueeze(-1)
                x, targets = torch.where(rows, x, 0.0), torch.where(rows, targets, 0.0)
            batch = x.shape[0]
            self.gram.mul_(self.forgetting).add_(x.T @ x, alpha=1.0 / batch)
            self.cross.mul_(self.forgetting).add_(x.T @ targets, alpha=1.0 / batch)
            self.updates += 1

    def due(self) -> bool:
        """Whether the window just folded in is one after which to solve."""
        return self.updates % self.solve_every == 0

    def get_extra_state(self) -> dict:
        return {"updates": self.updates}

    def set_extra_state(self, state: dict) -> None:
        self.updates = state["updates"]

    def solve_into(self, linear: nn.Linear) -> None:
        """Set ``linear``'s weight ``[S, I - 1]`` and bias ``[S]`` to the ridge solution."""
        with torch.no_grad():
            eye = torch.eye(self.gram.shape[0], dtype=self.gram.dtype, device=self.gram.device)
            solution = torch.linalg.solve(self.gram + self.ridge * eye, self.cross)  # (I, S)
            linear.weight.copy_(solution[:-1].T)
            linear.bias.copy_(solution[-1])
