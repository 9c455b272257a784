"""A recurrent trace unit (RTU) core: a complex diagonal linear recurrence trained by exact RTRL.

After Elelimy, White, Bowling and White (2024, "Real-time recurrent learning using trace units in
reinforcement learning"): with a diagonal recurrence, the sensitivities of the state to the recurrent
parameters are as cheap to carry forward as the state itself, so the gradient of every loss with
respect to those parameters is the *full-history* gradient, however short the window. It is the
streaming-RL anchor that DNI is compared with (docs/RL.md).

Per unit ``j`` (``H`` complex units), input ``x_t`` ``[D]``::

    lambda_j = exp(-exp(nu_j)) * exp(i exp(phi_j))          |lambda_j| < 1 always
    gamma_j  = sqrt(1 - |lambda_j|^2)                        input normalisation
    h_t      = lambda * h_{t-1} + gamma * (W_re + i W_im) x_t
    y_t      = tanh([Re h_t, Im h_t])                        outputs [T, B, 2H]

The carried state holds ``h`` and its sensitivities (the traces), each updated by the same recurrence::

    e_lambda_t = lambda * e_lambda_{t-1} + h_{t-1}           dh_t/dlambda       [B, H]
    e_u_t      = lambda * e_u_{t-1} + u_t,  u = W x          dh_t/dgamma        [B, H]
    e_x_t      = lambda * e_x_{t-1} + x_t                    dh_t/dW = gamma e_x [B, H, D]

and every step's output is built as ``h_t + sum_p (p - stopgrad(p)) * dh_t/dp``: its value is ``h_t``,
and autograd then gives every loss at step ``t`` the gradient ``dL/dh_t . dh_t/dp``, exact RTRL. The
recurrence itself runs without a graph, so nothing flows backwards through time and a window's
backward never needs the previous window: train it with ``--method bptt`` (the synthetic gradient has
nothing to add, and the engine refuses ``dni`` with this core). The identity pinned by
``tests/test_rtu.py``: with the weights held fixed, the gradients summed over windows equal full BPTT
through the same recurrence, with resets anywhere. Under training the traces mix sensitivities of
older weights, as in all of RTRL.

One layer only (a second layer's traces would need the first layer's full Jacobian), and the inputs
get no gradient: an RTU reads raw inputs, not a trained encoder's output (a ``ValueError`` says so).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn


class RTUState(NamedTuple):
    """State of an RTU core: the complex hidden state and its traces, each complex ``[B, H, ...]`` tensor
    stored as real ``[1, B, 2 * size]`` (real and imaginary parts interleaved, a view of the complex tensor).

    hidden, lambda_trace, drive_trace: ``[1, B, 2H]``; input_trace: ``[1, B, 2HD]``.
    """

    hidden: Tensor
    lambda_trace: Tensor
    drive_trace: Tensor
    input_trace: Tensor


def _as_complex(t: Tensor, *shape: int) -> Tensor:
    """``[1, B, 2 * prod(shape[1:])]`` real -> complex ``shape`` (a view when ``t`` is contiguous)."""
    return torch.view_as_complex(t.reshape(*shape, 2))


def _as_real(z: Tensor) -> Tensor:
    """Complex ``[B, ...]`` -> real ``[1, B, 2 * size]`` (a view)."""
    return torch.view_as_real(z).reshape(1, z.shape[0], -1)


class RTUCore(nn.Module):
    """The core protocol of ``dni_rnn.cores`` for a recurrent trace unit trained by exact RTRL.

    Args:
        input_size: ``D``. hidden_size: ``H`` complex units (``output_size`` is ``2H``).
        num_layers: must be 1. batch_first: layout of ``inputs`` and ``resets``.
        radius: the range ``(r_min, r_max)`` of ``|lambda|`` at initialisation, 0 < r_min <= r_max < 1
            (``|lambda|^2`` is drawn uniform in ``(r_min^2, r_max^2)``); memory of ``k`` steps needs ``r^k``
            well above 0.
        max_phase: the rotation ``arg lambda`` is initialised uniform in ``[0.001, 1] * max_phase``.
    """

    computes_full_gradient = True  # the engine reads this: a synthetic boundary gradient has nothing to add

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        radius: tuple[float, float] = (0.9, 0.999),
        max_phase: float = math.pi / 10,
    ):
        super().__init__()
        if num_layers != 1:
            raise ValueError(f"RTUCore: exact RTRL is implemented for one layer, got num_layers={num_layers}")
        if min(input_size, hidden_size) < 1:
            raise ValueError(f"RTUCore: input and hidden size must be >= 1, got {input_size}, {hidden_size}")
        r_min, r_max = radius
        if not 0 < r_min <= r_max < 1:
            raise ValueError(f"RTUCore: radius must satisfy 0 < r_min <= r_max < 1, got {radius}")
        if not max_phase > 0:
            raise ValueError(f"RTUCore: max_phase must be > 0, got {max_phase}")
        self.batch_first = batch_first
        self.input_size, self.hidden_size = input_size, hidden_size
        squared = torch.empty(hidden_size).uniform_(r_min**2, r_max**2)
        self.nu = nn.Parameter(torch.log(-0.5 * torch.log(squared)))  # |lambda| = exp(-exp(nu))
        self.phi = nn.Parameter(torch.log(torch.empty(hidden_size).uniform_(0, 1).clamp_min(1e-3) * max_phase))
        bound = 1 / math.sqrt(input_size)
        self.weight_re = nn.Parameter(torch.empty(hidden_size, input_size).uniform_(-bound, bound))
        self.weight_im = nn.Parameter(torch.empty(hidden_size, input_size).uniform_(-bound, bound))

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size

    def initial_state(self, batch_size: int, device=None, dtype=None) -> RTUState:
        """Zeros: hidden state and traces (``RTUState`` docstring for the shapes)."""
        device = self.nu.device if device is None else device
        dtype = self.nu.dtype if dtype is None else dtype

        def zeros(width: int) -> Tensor:
            return torch.zeros(1, batch_size, 2 * width, device=device, dtype=dtype)

        units = self.hidden_size
        return RTUState(zeros(units), zeros(units), zeros(units), zeros(units * self.input_size))

    def forward(self, inputs: Tensor, state: RTUState, resets: Tensor | None = None) -> tuple[Tensor, RTUState]:
        """``inputs [T, B, D]``, ``resets [T, B]`` bool or None (``[B, T, ...]`` if batch_first) ->
        ``outputs [T, B, 2H]`` and the next state."""
        if inputs.requires_grad:
            raise ValueError("RTUCore passes no gradient to its inputs: give it raw inputs, not a trained encoder's")
        if self.batch_first:
            inputs = inputs.transpose(0, 1)
            resets = None if resets is None else resets.transpose(0, 1)
        steps, batch, _ = inputs.shape
        if resets is not None and tuple(resets.shape) != (steps, batch):
            raise ValueError(
                f"RTUCore: resets of shape {tuple(resets.shape)} do not match inputs {tuple(inputs.shape)}"
            )
        nu, phi, w_re, w_im = self.nu, self.phi, self.weight_re, self.weight_im
        units, width = self.hidden_size, self.input_size
        with torch.no_grad():
            radius, angle = torch.exp(-torch.exp(nu)), torch.exp(phi)
            # gamma = sqrt(1 - |lambda|^2) through expm1: 1 - r^2 in float32 would round to 0 as r -> 1
            lam, gamma = torch.polar(radius, angle), torch.sqrt(-torch.expm1(-2 * torch.exp(nu)))
            weight_t = torch.complex(w_re, w_im).T  # [D, H]
            lam_x = lam[:, None]  # lambda broadcast over the input trace's D
        h = _as_complex(state.hidden, batch, units)
        e_lambda = _as_complex(state.lambda_trace, batch, units)
        e_drive = _as_complex(state.drive_trace, batch, units)
        e_input = _as_complex(state.input_trace, batch, units, width)
        surrogate = torch.is_grad_enabled() and any(p.requires_grad for p in (nu, phi, w_re, w_im))
        if surrogate:
            with torch.no_grad():  # d lambda / d nu, d lambda / d phi, d gamma / d nu
                dlam_dnu, dlam_dphi = -torch.exp(nu) * lam, 1j * angle * lam
                dgamma_dnu = radius**2 * torch.exp(nu) / gamma.clamp_min(torch.finfo(gamma.dtype).tiny)
            d_nu, d_phi = nu - nu.detach(), phi - phi.detach()
            d_weight = torch.complex(w_re - w_re.detach(), w_im - w_im.detach())  # [H, D], value 0
        outputs = []
        for t in range(steps):
            with torch.no_grad():
                if resets is not None:
                    keep = ~resets[t]
                    h, e_lambda, e_drive = (torch.where(keep[:, None], z, 0) for z in (h, e_lambda, e_drive))
                    e_input = torch.where(keep[:, None, None], e_input, 0)
                x = inputs[t]
                drive = x.to(weight_t.dtype) @ weight_t  # u = W x, [B, H]
                e_lambda = lam * e_lambda + h
                e_drive = lam * e_drive + drive
                e_input = lam_x * e_input + x[:, None, :]
                h = lam * h + gamma * drive
            out = h
            if surrogate:  # value h; gradient dL/dh . dh/dp for p in (nu, phi, W): exact RTRL
                dh_dnu = e_lambda * dlam_dnu + e_drive * dgamma_dnu
                out = h + d_nu * dh_dnu + d_phi * (e_lambda * dlam_dphi) + gamma * (e_input * d_weight).sum(-1)
            outputs.append(torch.tanh(torch.cat([out.real, out.imag], dim=-1)))
        output = torch.stack(outputs)
        next_state = RTUState(_as_real(h), _as_real(e_lambda), _as_real(e_drive), _as_real(e_input))
        return (output.transpose(0, 1) if self.batch_first else output), next_state
