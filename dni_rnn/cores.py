"""Recurrent cores with one protocol, after dm-haiku's ``RNNCore``.

Every core has::

    initial_state(batch_size, device=None, dtype=None) -> state
    forward(inputs, state, resets=None) -> (outputs, next_state)

``inputs`` are ``[T, B, F]`` (``[B, T, F]`` if ``batch_first``), ``resets`` is ``[T, B]`` bool
(``[B, T]`` if ``batch_first``): where ``resets[t, b]`` the state of entry ``b`` is replaced by the
initial state *before* step ``t``, so no state and no gradient crosses it. ``outputs`` are the top
layer's outputs ``[T, B, output_size]``.

A window without resets runs through the fused ``nn.LSTM`` / ``nn.GRU`` kernel in one call (cuDNN on
a GPU, oneDNN on a CPU). With resets the window is split at the steps where some entry resets, and
each piece runs fused: one kernel call per distinct reset step, never a Python loop over cells in eager mode.
``reset_loop="compiled"`` (``--reset-loop compiled``) runs such a window instead as one compiled step loop
(:mod:`dni_rnn.cell_loop`): cheaper when resets are scattered over the batch, equal to float rounding.
``--cell rtu`` (:mod:`dni_rnn.rtu`) is the exception: a diagonal recurrence whose traces must advance step by
step, each step a handful of element-wise ops.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from dni_rnn.cell_loop import check_loopable, run_with_resets
from dni_rnn.rtu import RTUCore
from dni_rnn.state import LSTMState, State, reset_state, state_tensors

RESET_LOOPS = ("split", "compiled")  # how an RNNCore runs a window with resets


@runtime_checkable
class Core(Protocol):
    """What the engine needs of a recurrent core (``nn.Module`` subclasses provide ``__call__``).

    Inputs of ``forward``: ``inputs`` ``[T, B, F]`` (``[B, T, F]`` if ``batch_first``), ``state`` as
    returned by ``initial_state`` (batch on dimension 1), ``resets`` ``[T, B]`` bool or None.
    Outputs: ``outputs`` ``[T, B, output_size]`` and the state after the last step.
    """

    batch_first: bool
    output_size: int

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State: ...

    def forward(self, inputs: Tensor, state: State, resets: Tensor | None = None) -> tuple[Tensor, State]: ...


class RNNCore(nn.Module):
    """Wraps any ``nn.RNNBase`` (``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` or a user's subclass) as a core.

    Args:
        rnn: the module to run; its ``batch_first`` decides the layout of ``inputs`` and ``resets``.
            The state keeps torch's layout ``[num_layers * num_directions, B, H]`` either way.
        reset_loop: a window with resets is ``"split"`` at its reset steps into fused calls, or run as one
            ``"compiled"`` step loop (:mod:`dni_rnn.cell_loop`; LSTM / GRU without projection or dropout).
    """

    def __init__(self, rnn: nn.RNNBase, reset_loop: str = "split"):
        super().__init__()
        if not isinstance(rnn, nn.RNNBase):
            raise ValueError(f"RNNCore: expected an nn.RNNBase (nn.LSTM, nn.GRU, ...), got {type(rnn).__name__}")
        if rnn.bidirectional:
            raise ValueError("RNNCore: a bidirectional RNN reads the future and cannot be trained in windows")
        if reset_loop not in RESET_LOOPS:
            raise ValueError(f"RNNCore: expected reset_loop in {RESET_LOOPS}, got {reset_loop!r}")
        if reset_loop == "compiled":
            check_loopable(rnn)
        self.rnn = rnn
        self.is_lstm = rnn.mode == "LSTM"
        self.reset_loop = reset_loop

    @property
    def batch_first(self) -> bool:
        return self.rnn.batch_first

    @property
    def output_size(self) -> int:
        return self.rnn.proj_size or self.rnn.hidden_size

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        """Zeros: ``LSTMState`` of ``[L, B, H_out]`` and ``[L, B, H]`` for an LSTM, ``[L, B, H]`` otherwise."""
        weight = next(self.rnn.parameters())
        device = weight.device if device is None else device
        dtype = weight.dtype if dtype is None else dtype
        layers = self.rnn.num_layers
        hidden = torch.zeros(layers, batch_size, self.output_size, device=device, dtype=dtype)
        if self.is_lstm:
            cell = torch.zeros(layers, batch_size, self.rnn.hidden_size, device=device, dtype=dtype)
            return LSTMState(hidden, cell)
        return hidden

    def _run_fused(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        outputs, next_state = self.rnn(inputs, tuple(state) if self.is_lstm else state)
        return outputs, LSTMState(*next_state) if self.is_lstm else next_state

    def forward(self, inputs: Tensor, state: State, resets: Tensor | None = None) -> tuple[Tensor, State]:
        time_dim = 1 if self.batch_first else 0
        if resets is None:
            return self._run_fused(inputs, state)
        resets = resets.transpose(0, 1) if self.batch_first else resets  # (T, B)
        steps, batch = inputs.shape[time_dim], inputs.shape[1 - time_dim]
        if tuple(resets.shape) != (steps, batch):
            raise ValueError(
                f"{type(self).__name__}: resets of shape {tuple(resets.shape)} do not match inputs {tuple(inputs.shape)}"
            )
        # One host sync per window (not per step) to find where the window must be cut.
        reset_steps = torch.nonzero(resets.any(dim=1)).flatten().tolist()
        if not reset_steps:
            return self._run_fused(inputs, state)
        if self.reset_loop == "compiled":
            outputs, state = run_with_resets(
                self.rnn, inputs.transpose(0, 1) if self.batch_first else inputs, state, resets
            )
            return (outputs.transpose(0, 1) if self.batch_first else outputs), state
        initial = self.initial_state(batch, inputs.device, state_tensors(state)[0].dtype)
        cuts = sorted(set([0] + reset_steps + [steps]))
        pieces = []
        for start, stop in zip(cuts[:-1], cuts[1:]):
            if start in reset_steps:
                state = reset_state(state, initial, resets[start])
            piece, state = self._run_fused(inputs.narrow(time_dim, start, stop - start), state)
            pieces.append(piece)
        return torch.cat(pieces, dim=time_dim), state


class _BuiltRNNCore(RNNCore):
    """An ``RNNCore`` that builds its own ``rnn_class`` (an ``nn.LSTM`` or ``nn.GRU``) from sizes."""

    rnn_class: type[nn.RNNBase]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        reset_loop: str = "split",
        **kwargs,
    ):
        rnn = self.rnn_class(input_size, hidden_size, num_layers, batch_first=batch_first, **kwargs)
        super().__init__(rnn, reset_loop)


class LSTMCore(_BuiltRNNCore):
    """A stacked ``nn.LSTM`` core. Extra keyword arguments go to ``nn.LSTM`` (``proj_size``, ``dropout``...)."""

    rnn_class = nn.LSTM


class GRUCore(_BuiltRNNCore):
    """A stacked ``nn.GRU`` core. Extra keyword arguments go to ``nn.GRU``."""

    rnn_class = nn.GRU


CELLS = {"lstm": LSTMCore, "gru": GRUCore, "rtu": RTUCore}


def computes_full_gradient(core: nn.Module) -> bool:
    """Whether ``core`` holds a module that computes its full-history gradient itself (an RTU, exact RTRL):
    such a core has no boundary for a synthetic gradient to bridge, and passes no gradient to its inputs."""
    return any(getattr(module, "computes_full_gradient", False) for module in core.modules())


def chrono_init_(rnn: nn.RNNBase, max_steps: int) -> None:
    """Chrono initialisation (Tallec & Ollivier, ICLR 2018) of an ``nn.LSTM`` / ``nn.GRU``'s gate biases, in place.

    Each unit's keep-gate bias is ``log u``, ``u ~ U(1, max_steps - 1)``: at zero input and state the gate is
    ``u / (1 + u)``, a time constant ``1 / (1 - gate) = 1 + u`` of 2 to ``max_steps`` steps. An LSTM's keep gate
    is its forget gate, and its input-gate bias becomes ``-log u``; a GRU's is its update gate (``z``, the
    weight of the old state in torch's ``h' = (1 - z) n + z h``). torch's default biases are ~0, a keep gate of
    ~0.5: the state halves every step until the gates learn otherwise. The bias sits in ``bias_ih``; the gate's
    part of ``bias_hh`` is zeroed (only their sum counts). The draws use torch's global generator, as the
    weights' own initialisation does, so whatever is initialised after the core (the head, M) draws other
    numbers than in a run of the same seed without chrono.
    """
    if rnn.mode not in ("LSTM", "GRU"):
        raise ValueError(f"chrono initialisation is for LSTM and GRU cores, got {rnn.mode}")
    if not rnn.bias or rnn.bidirectional:
        raise ValueError("chrono initialisation needs a unidirectional RNN with biases (bias=True)")
    if max_steps < 3:
        raise ValueError(f"chrono steps must be 0 (off) or >= 3 (time constants of 2 to K steps), got {max_steps}")
    hidden = rnn.hidden_size
    keep = slice(hidden, 2 * hidden)  # LSTM gates i, f, g, o; GRU gates r, z, n: the keep gate is the second
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            bias_ih, bias_hh = getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}")
            log_time = torch.empty(hidden, dtype=bias_ih.dtype).uniform_(1, max_steps - 1).log_().to(bias_ih.device)
            bias_ih[keep] = log_time
            bias_hh[keep] = 0
            if rnn.mode == "LSTM":
                bias_ih[:hidden] = -log_time
                bias_hh[:hidden] = 0


def sparse_init_(rnn: nn.RNNBase, sparsity: float) -> None:
    """Sparse initialisation (as in the stream-x learners of Elsayed et al., 2024) of an ``nn.LSTM`` / ``nn.GRU``'s
    weight matrices, in place: every entry ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, then in every row (one gate of
    one unit) ``round(sparsity * fan_in)`` of its ``fan_in`` inputs, drawn at random, set to 0. Only the start
    is sparse: the zeros are free to learn. Biases are left alone (chrono sets them). The draws use torch's global
    generator, after the weights' own initialisation.
    """
    if rnn.mode not in ("LSTM", "GRU"):
        raise ValueError(f"sparse initialisation is for LSTM and GRU cores, got {rnn.mode}")
    if not 0.0 < sparsity < 1.0:
        raise ValueError(f"sparsity must be in (0, 1) (0: off), got {sparsity}")
    with torch.no_grad():
        for name, weight in rnn.named_parameters():
            if not name.startswith("weight_"):
                continue
            rows, fan_in = weight.shape  # (gates * H, inputs)
            bound = 1.0 / math.sqrt(fan_in)
            values = torch.empty(rows, fan_in, dtype=weight.dtype).uniform_(-bound, bound)
            zeroed = torch.rand(rows, fan_in).argsort(dim=1)[:, : round(sparsity * fan_in)]
            weight.copy_(values.scatter_(1, zeroed, 0.0))


def make_core(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    batch_first: bool = False,
    chrono_steps: int = 0,
    reset_loop: str = "split",
    sparse_init: float = 0.0,
) -> nn.Module:
    """Build an ``lstm``, ``gru`` or ``rtu`` (:mod:`dni_rnn.rtu`, exact RTRL) core by name (the CLI's ``--cell``);
    ``chrono_steps > 0``: :func:`chrono_init_` of an LSTM's or GRU's gate biases for that many steps;
    ``reset_loop``: how an LSTM or GRU runs a window with resets (:class:`RNNCore`); ``sparse_init > 0``:
    :func:`sparse_init_` of an LSTM's or GRU's weights with that fraction of zeros."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CELLS)}")
    if min(input_size, hidden_size, num_layers) < 1:
        raise ValueError(
            f"input size, hidden size and layers must be >= 1, got {input_size}, {hidden_size}, {num_layers}"
        )
    if reset_loop != "split" and cell == "rtu":
        raise ValueError(f"--reset-loop {reset_loop} is for the lstm and gru cells; the rtu cell steps on its own")
    kwargs = {"reset_loop": reset_loop} if cell != "rtu" else {}
    core = CELLS[cell](input_size, hidden_size, num_layers, batch_first=batch_first, **kwargs)
    if sparse_init:
        if not isinstance(core, RNNCore):
            raise ValueError(f"sparse initialisation is for the lstm and gru cells, got {cell!r}")
        sparse_init_(core.rnn, sparse_init)
    if chrono_steps:
        if not isinstance(core, RNNCore):
            raise ValueError(f"chrono initialisation is for the lstm and gru cells, got {cell!r}")
        chrono_init_(core.rnn, chrono_steps)
    return core


class EncodedCore(nn.Module):
    """``core(encoder(inputs))``: puts an input encoder (an ``nn.Embedding``, say) in front of a core."""

    def __init__(self, encoder: nn.Module, core: nn.Module):
        super().__init__()
        if computes_full_gradient(core):  # RTRL's traces cover the core's parameters only
            raise ValueError(
                f"{type(core).__name__} passes no gradient to its inputs: an encoder before it would not learn"
            )
        self.encoder = encoder
        self.core = core

    @property
    def batch_first(self) -> bool:
        return self.core.batch_first

    @property
    def output_size(self) -> int:
        return self.core.output_size

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        return self.core.initial_state(batch_size, device, dtype)

    def forward(self, inputs: Tensor, state: State, resets: Tensor | None = None) -> tuple[Tensor, State]:
        return self.core(self.encoder(inputs), state, resets)
