"""The window engine: one call trains on one window of truncated BPTT, with a synthetic boundary gradient.

For one window (SPEC section 1), with ``s_0`` the carried state made a leaf and ``B`` the batch size::

    outputs, s_T = core(inputs, s_0, resets)
    g            = M(s_T) * continues                  # stopgrad; 0 where the next step starts a new episode
    objective    = loss(outputs) + (scale / B) * <g, s_T>   (+ aux_weight * aux loss for dni_aux)
    objective.backward()                               # ONE backward: parameter grads and d objective / d s_0
    delta_0      = B * d objective / d s_0
    loss_M       = sum_b ||M(s_0[b]) - delta_0[b]||^2 / B   (entries reset at step 0 excluded)

then the optimisers step and ``s_T`` (detached) is carried into the next window. ``bptt`` is the same
call without ``M``; ``M == 0`` gives exactly truncated BPTT.

Units of ``M``: task losses are means over the batch, so the gradient that reaches entry ``b``'s state
carries a factor ``1/B``. ``M`` predicts the gradient *without* that factor (the gradient of the entry's
own loss), and the ``1/B`` is applied where it is injected. This is SPEC section 1 exactly, with the
injected vector ``scale * M(s_T) / B``; it keeps M's targets on one scale whatever the batch size.
Without it the targets are ~1/B smaller, and Adam, whose steps do not shrink with the gradient,
leaves M's predictions with noise several times larger than the targets.

``dni_aux`` ("DNI + Aux", this toolkit's definition; SPEC section 1): a linear head on the core's
output at every step of the window predicts ``g = M(s_T)``, the (stopgrad) synthetic gradient at the
window's end, with a squared error summed over the state and averaged over the window's steps and batch
entries, weighted by ``aux_weight``. Steps before the last reset of an entry inside the window belong to
an earlier episode and are left out. The aux gradient reaches the core, so ``delta_0`` is the gradient
of the whole objective the core is trained on (task + aux).

Untied discount: the bootstrap target for ``M`` is ``delta_0 = B dL/ds_0 + discount * J^T g`` while the
parameters see ``scale * g``. When ``discount == scale`` (the default) one backward gives both; otherwise a
second, state-only backward of ``<g, s_T>`` supplies ``J^T g``. During the warm-up (``M`` learns, nothing
is injected) the injected scale is 0 and the target keeps ``discount``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dni_rnn.config import option
from dni_rnn.state import (
    State,
    detach_state,
    flatten_grads,
    flatten_state,
    leaf_state,
    state_size,
    state_tensors,
)
from dni_rnn.synthetic_gradient import SyntheticGradient

METHODS = ("bptt", "dni", "dni_aux")


class Window(NamedTuple):
    """One window of a stream, as every task hands it to the engine.

    inputs: ``[T, B, ...]`` (``[B, T, ...]`` for a ``batch_first`` core).
    targets: whatever the task's loss reads (a tensor, a dict...).
    loss_mask: ``[T, B]`` float/bool, steps that carry loss, or None.
    resets: ``[T, B]`` bool, the state is reset before that step, or None.
    next_resets: ``[B]`` bool, the step after the window starts a new sequence/episode or the stream
        ends: no synthetic gradient is injected there. None means every stream continues.
    context: ``[B, C]`` conditioning input of ``M`` for this window's start (cDNI), or None.
    next_context: ``[B, C]`` the same for the next window's start (used at ``s_T``), or None.
    """

    inputs: Tensor
    targets: Any
    loss_mask: Tensor | None = None
    resets: Tensor | None = None
    next_resets: Tensor | None = None
    context: Tensor | None = None
    next_context: Tensor | None = None


@dataclass
class EngineConfig:
    """How windows are trained. The same names are used on the command line and in checkpoints."""

    method: str = option("dni", "bptt (truncated BPTT), dni (synthetic boundary gradient) or dni_aux (dni + future-SG auxiliary loss).")
    lr: float = option(3e-3, "Adam learning rate of the core and the task's readout.")
    sg_lr: float = option(1e-3, "Adam learning rate of the synthetic-gradient module M.")
    sg_scale: float = option(0.1, "Injection scale: the parameters see scale * M(s_T) at the window's end.")
    bootstrap_discount: float | None = option(None, "Discount of M(s_T) in M's bootstrapped target; None ties it to sg_scale (one backward per window).")
    sg_hidden: tuple[int, ...] = option((), "Hidden widths of M; () for the default linear M.")
    sg_warmup_windows: int = option(0, "Windows during which M learns but nothing is injected.")
    sg_clip_prediction: float | None = option(None, "Clamp every entry of M's prediction to [-x, x] before it is injected; None: no clamp.")
    grad_clip: float | None = option(1.0, "Max global grad norm of the core and readout; None: no clipping.")
    sg_grad_clip: float | None = option(1.0, "Max global grad norm of M; None: no clipping.")
    aux_weight: float = option(1.0, "Weight of the dni_aux loss.")
    probe_every: int = option(0, "Every k windows compare M(s_T) with the true discounted gradient of the next windows; 0: off.")
    probe_windows: int = option(4, "P, how many future windows the SG-quality probe backpropagates through.")
    max_bad_windows: int = option(10, "Stop after this many consecutive windows with a non-finite loss or gradient.")

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        for name in ("lr", "sg_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("sg_warmup_windows", "probe_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.probe_windows < 1 or self.max_bad_windows < 1:
            raise ValueError("probe_windows and max_bad_windows must be >= 1")
        self.sg_hidden = tuple(self.sg_hidden)

    @property
    def discount(self) -> float:
        return self.sg_scale if self.bootstrap_discount is None else self.bootstrap_discount


class NonFiniteError(RuntimeError):
    """Raised after ``max_bad_windows`` consecutive windows with a non-finite loss or gradient."""


class WindowEngine(nn.Module):
    """Trains a core and a task loss window by window with ``bptt``, ``dni`` or ``dni_aux``.

    Args:
        core: a core following the protocol of :mod:`dni_rnn.cores` (with an ``output_size``).
        task_loss: module called as ``task_loss(outputs, window) -> (loss, metrics)``; ``outputs`` are the
            core's ``[T, B, output_size]``; ``loss`` a scalar normalised the same way in every window
            (e.g. a mean over steps and batch), ``metrics`` a dict of detached tensors. Its parameters
            (the readout) are trained with the core. It must not have side effects: the probe calls it too.
        config: :class:`EngineConfig`.
        context_size: width of ``Window.context`` for a conditioned M (cDNI); 0 for none.

    The engine owns its optimisers (Adam for core + readout (+ aux head), Adam for M), so that
    ``state_dict`` + ``optimizer_state_dict`` capture a run.
    """

    def __init__(self, core: nn.Module, task_loss: nn.Module, config: EngineConfig, context_size: int = 0):
        super().__init__()
        self.core = core
        self.task_loss = task_loss
        self.config = config
        self.state_size = state_size(core.initial_state(1))
        use_sg = config.method != "bptt"
        self.synthetic_gradient = (
            SyntheticGradient(self.state_size, config.sg_hidden, context_size) if use_sg else None
        )
        self.aux_head = nn.Linear(core.output_size, self.state_size) if config.method == "dni_aux" else None
        # fused=True: one kernel per step instead of one op per tensor and moment (2x faster on a CPU).
        self.optimizer = torch.optim.Adam(self.model_parameters(), lr=config.lr, fused=True)
        self.sg_optimizer = (
            torch.optim.Adam(self.synthetic_gradient.parameters(), lr=config.sg_lr, fused=True) if use_sg else None
        )
        self._distributed = False
        self._set_runners(self.core, self.task_loss, self.aux_head, self.synthetic_gradient)
        self.windows_seen = 0
        self.bad_windows = 0
        self.skipped_windows = 0
        self._probe: tuple[State, Tensor, list[Window]] | None = None

    def _set_runners(self, core, task_loss, aux_head, synthetic_gradient) -> None:
        """The callables of the training forward; kept out of ``_modules`` so that wrapping them in DDP
        changes neither ``state_dict`` keys nor checkpoints."""
        object.__setattr__(self, "_runners", (core, task_loss, aux_head, synthetic_gradient))

    def distribute(self, device_ids=None) -> None:
        """Average the gradients of the core, readout, aux head and M over the process group (DDP)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        wrap = lambda module: DDP(module, device_ids=device_ids) if module is not None else None
        self._set_runners(wrap(self.core), wrap(self.task_loss), wrap(self.aux_head), wrap(self.synthetic_gradient))
        self._distributed = True

    def model_parameters(self) -> list[nn.Parameter]:
        """Everything but M: the core, the task's readout and the aux head."""
        modules = [self.core, self.task_loss] + ([self.aux_head] if self.aux_head is not None else [])
        return [p for module in modules for p in module.parameters()]

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        return self.core.initial_state(batch_size, device, dtype)

    def boundary_grad(self, flat_final: Tensor, window: Window) -> Tensor:
        """``M(s_T)`` for the flattened window end ``[B, S]``, zero where the next step starts a new episode."""
        with torch.no_grad():
            grad = self.synthetic_gradient(flat_final.detach(), window.next_context)
            if self.config.sg_clip_prediction is not None:
                grad = grad.clamp(-self.config.sg_clip_prediction, self.config.sg_clip_prediction)
            if window.next_resets is not None:
                grad = grad * (~window.next_resets).unsqueeze(-1).to(grad.dtype)
        return grad

    def aux_loss(self, aux_head: nn.Module, outputs: Tensor, boundary_grad: Tensor, window: Window) -> Tensor:
        """dni_aux: every step's output predicts ``M(s_T)``; squared error summed over S, mean over steps and batch."""
        if self.core.batch_first:
            outputs = outputs.transpose(0, 1)  # (T, B, H)
        prediction = aux_head(outputs)  # (T, B, S)
        error = (prediction - boundary_grad.unsqueeze(0)).pow(2).sum(-1)  # (T, B)
        if window.resets is not None:
            resets = window.resets.transpose(0, 1) if self.core.batch_first else window.resets
            episode = resets.long().cumsum(0)  # (T, B): which episode each step belongs to
            same_episode = (episode == episode[-1:]).to(error.dtype)  # only steps of s_T's episode
            return (error * same_episode).sum() / error.numel()
        return error.mean()

    def step(self, window: Window, state: State) -> tuple[State, dict[str, Tensor]]:
        """Train on one window starting from ``state``; returns the carried ``s_T`` and the window's metrics.

        Metrics are detached 0-d tensors (no host sync here but one ``isfinite`` check per window).
        """
        cfg = self.config
        sg = self.synthetic_gradient
        run_core, run_loss, run_aux, run_sg = self._runners
        start = leaf_state(state) if sg is not None else detach_state(state)
        outputs, final = run_core(window.inputs, start, window.resets)
        loss, metrics = run_loss(outputs, window)
        metrics = {"losses/task": loss.detach(), **metrics}
        objective = loss

        inject_scale = 0.0
        if sg is not None:
            flat_final = flatten_state(final)  # (B, S)
            boundary_grad = self.boundary_grad(flat_final, window)  # (B, S)
            inject_scale = cfg.sg_scale if self.windows_seen >= cfg.sg_warmup_windows else 0.0
            batch = flat_final.shape[0]
            if inject_scale:
                objective = objective + inject_scale / batch * (boundary_grad * flat_final).sum()
            if self.aux_head is not None:
                aux = self.aux_loss(run_aux, outputs, boundary_grad, window)
                objective = objective + cfg.aux_weight * aux
                metrics["losses/aux"] = aux.detach()
            metrics["charts/sg_norm"] = boundary_grad.norm(dim=-1).mean()

        self.optimizer.zero_grad(set_to_none=True)
        untied = sg is not None and cfg.discount != inject_scale
        objective.backward(retain_graph=untied)
        grad_norm = self._grad_norm(self.model_parameters(), cfg.grad_clip)
        metrics["charts/grad_norm"] = grad_norm

        finite = torch.isfinite(objective.detach()) & torch.isfinite(grad_norm)
        if self._distributed:  # every rank skips a bad window together, or none does
            finite = finite.to(torch.int32)
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        if not bool(finite):
            return self._skip_window(state, metrics)
        self.bad_windows = 0

        if sg is not None:
            target = batch * flatten_grads([t.grad for t in state_tensors(start)], start)  # (B, S): delta_0
            if untied:
                # J^T g, the bootstrap carried back through the window: a second, state-only backward,
                # taken before the optimiser changes the weights the graph saved.
                carried = torch.autograd.grad(flat_final, state_tensors(start), boundary_grad, allow_unused=True)
                target = target + (cfg.discount - inject_scale) * flatten_grads(carried, start)
        self.optimizer.step()

        if sg is not None:
            metrics["losses/synthetic_grad"] = self._update_synthetic_gradient(run_sg, start, target, window)
            metrics["charts/delta_norm"] = target.norm(dim=-1).mean()
            metrics.update(self._advance_probe(final, boundary_grad, window))

        self.windows_seen += 1
        return detach_state(final), metrics

    def _update_synthetic_gradient(self, sg: nn.Module, start: State, target: Tensor, window: Window) -> Tensor:
        """One step of ``M`` on ``||M(s_0) - delta_0||^2``, summed over the state, normalised by batch."""
        prediction = sg(flatten_state(detach_state(start)), window.context)  # (B, S)
        error = (prediction - target.detach()).pow(2).sum(-1)  # (B,)
        if window.resets is not None:
            # An entry reset before step 0 ended its episode at this boundary: its s_0 has no future to predict.
            first_reset = window.resets[:, 0] if self.core.batch_first else window.resets[0]
            error = error * (~first_reset).to(error.dtype)
        sg_loss = error.sum() / error.shape[0]
        self.sg_optimizer.zero_grad(set_to_none=True)
        sg_loss.backward()
        self._grad_norm(list(self.synthetic_gradient.parameters()), self.config.sg_grad_clip)
        self.sg_optimizer.step()
        return sg_loss.detach()

    @staticmethod
    def _grad_norm(parameters: list[nn.Parameter], max_norm: float | None) -> Tensor:
        grads = [p for p in parameters if p.grad is not None]
        if not grads:
            return torch.zeros(())  # a model with nothing to train has a finite, zero gradient
        if max_norm is None:
            return torch.nn.utils.clip_grad_norm_(grads, math.inf)
        return torch.nn.utils.clip_grad_norm_(grads, max_norm)

    def _skip_window(self, state: State, metrics: dict[str, Tensor]) -> tuple[State, dict[str, Tensor]]:
        """NaN/Inf guard: drop the update, keep the last finite state, stop after too many in a row."""
        self.optimizer.zero_grad(set_to_none=True)
        self.bad_windows += 1
        self.skipped_windows += 1
        self.windows_seen += 1
        if self.bad_windows >= self.config.max_bad_windows:
            raise NonFiniteError(
                f"{self.bad_windows} consecutive windows had a non-finite loss or gradient; "
                "lower --lr or set --grad-clip / --sg-clip-prediction"
            )
        metrics["charts/skipped_windows"] = torch.tensor(float(self.skipped_windows))
        return detach_state(state), metrics

    # ----- SG-quality probe -------------------------------------------------------------------------

    def _advance_probe(self, final: State, boundary_grad: Tensor, window: Window) -> dict[str, Tensor]:
        """Start a probe every ``probe_every`` windows; finish it once ``probe_windows`` windows have passed."""
        cfg = self.config
        metrics: dict[str, Tensor] = {}
        if self._probe is not None:
            start_state, predicted, windows = self._probe
            windows.append(window)
            if len(windows) == cfg.probe_windows:
                metrics = self.probe(start_state, predicted, windows)
                self._probe = None
        elif cfg.probe_every and self.windows_seen % cfg.probe_every == 0:
            self._probe = (detach_state(final), boundary_grad.detach(), [])
        return metrics

    def future_gradient(self, start_state: State, windows: list[Window]) -> Tensor:
        """``B d/ds sum_j discount^j L_j`` ``[B, S]``: the true discounted gradient at ``s`` of the given
        windows' losses, run from ``s`` with the current parameters -- the quantity M's bootstrapped target
        converges to, truncated after ``len(windows)`` windows, in M's per-entry units."""
        start = leaf_state(start_state)
        state, total = start, 0.0
        for j, window in enumerate(windows):
            outputs, state = self.core(window.inputs, state, window.resets)
            loss, _ = self.task_loss(outputs, window)
            total = total + self.config.discount**j * loss
        grads = torch.autograd.grad(total, state_tensors(start), allow_unused=True)
        flat = flatten_grads(grads, start)
        return flat.shape[0] * flat

    def probe(self, start_state: State, predicted: Tensor, windows: list[Window]) -> dict[str, Tensor]:
        """Compare a prediction ``M(s)`` ``[B, S]`` with :meth:`future_gradient` at ``s``.

        The parameters have moved by the windows' updates since ``M(s)`` was computed, which is the price
        of measuring online. Returns cosine similarity and relative error.
        """
        true = self.future_gradient(start_state, windows)
        cosine = F.cosine_similarity(predicted.flatten(), true.flatten(), dim=0, eps=1e-12)
        relative_error = (predicted - true).norm() / true.norm().clamp_min(1e-12)
        return {"charts/sg_cosine": cosine.detach(), "charts/sg_relative_error": relative_error.detach()}

    # ----- checkpoints ---------------------------------------------------------------------------------

    def optimizer_state_dict(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "sg_optimizer": self.sg_optimizer.state_dict() if self.sg_optimizer is not None else None,
            "windows_seen": self.windows_seen,
            "skipped_windows": self.skipped_windows,
            "bad_windows": self.bad_windows,
        }

    def load_optimizer_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.sg_optimizer is not None:
            self.sg_optimizer.load_state_dict(state["sg_optimizer"])
        self.windows_seen = state["windows_seen"]
        self.skipped_windows = state["skipped_windows"]
        self.bad_windows = state["bad_windows"]
