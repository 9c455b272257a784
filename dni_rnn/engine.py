"""The window engine: one call trains on one window of truncated BPTT, with a synthetic boundary gradient.

For one window (SPEC section 1), with ``s_0`` the carried state made a leaf and ``B`` the batch size::

    outputs, s_T = core(inputs, s_0, resets)
    g            = M(s_T) * continues                  # stopgrad; 0 where the next step starts a new episode
    objective    = loss(outputs) + (scale / B) * <g, s_T>   (+ aux_weight * aux loss for dni_aux)
    objective.backward()                               # ONE backward: parameter grads and d objective / d s_0
    delta_0      = B * d objective / d s_0
    loss_M       = sum_b ||M(s_0[b]) - delta_0[b]||^2 / B   (entries reset at step 0 excluded)

then the optimisers step and ``s_T`` (detached) is carried into the next window. ``bptt`` is the same
call without ``M``; ``M == 0`` gives exactly truncated BPTT. The boundary itself (``M``, its optimiser, the
injection and ``delta_0``) is :class:`~dni_rnn.boundary.SyntheticBoundary`, usable in any loop; this engine
adds the optimiser of the core, clipping, the NaN guard, ``dni_aux``, n-step / lambda targets
(:mod:`dni_rnn.targets`) and the SG-quality probe (:mod:`dni_rnn.probe`).

``dni_aux`` ("DNI + Aux", SPEC section 1): a linear head on the core's outputs predicts ``M(s_T)``, at every
step (``aux_pooling="steps"``) or once from their average over s_T's episode (``"mean"``, the default); the loss and
its masks are :mod:`dni_rnn.auxiliary`. The aux gradient reaches the core, so ``delta_0`` is the gradient of
the whole objective the core is trained on (task + aux).
"""

from __future__ import annotations

from collections import deque

import torch
from torch import Tensor, nn

from dni_rnn.auxiliary import aux_loss
from dni_rnn.boundary import OptimizerFactory, SyntheticBoundary, load_keeping_rates
from dni_rnn.cores import computes_full_gradient
from dni_rnn.engine_config import METHODS, EngineConfig
from dni_rnn.least_squares import LeastSquaresFit
from dni_rnn.probe import SGProbe
from dni_rnn.state import State, detach_state, flatten_grads, flatten_state, leaf_state, state_size, state_tensors
from dni_rnn.targets import lambda_target
from dni_rnn.window import Window, check_window, first_resets

__all__ = ["METHODS", "EngineConfig", "NonFiniteError", "Window", "WindowEngine", "default_optimizer"]


class NonFiniteError(RuntimeError):
    """Raised after ``max_bad_windows`` consecutive windows with a non-finite loss or gradient."""


def default_optimizer(lr: float) -> OptimizerFactory:
    """Adam at ``lr``; fused (one kernel per step instead of one op per tensor: 2x faster on a CPU)."""
    return lambda params: torch.optim.Adam(params, lr=lr, fused=True)


class WindowEngine(nn.Module):
    """Trains a core and a head window by window with ``bptt``, ``dni`` or ``dni_aux``.

    Args:
        core: a core following the protocol of :mod:`dni_rnn.cores` (with an ``output_size``).
        head: the model's head, called as ``head.loss(outputs, window) -> (loss, metrics)``; ``outputs``
            are the core's ``[T, B, output_size]``; ``loss`` a scalar normalised the same way in every window
            (e.g. a mean over steps and batch), ``metrics`` a dict of detached tensors. Its parameters (the
            readout) are trained with the core. It must not have side effects: the probe calls it too.
            Optionally ``head.sg_excluded_loss(outputs, window)``, a part of the loss ``M``'s target leaves
            out (:class:`~dni_rnn.head.Head`).
        config: :class:`EngineConfig`.
        context_size: width of ``Window.context`` for a conditioned M (cDNI); 0 for none. Default: 0.
        optimizer: factory ``params -> Optimizer`` for the core, head (and aux head). Default: Adam at ``config.lr``.
        sg_optimizer: factory for ``M``. Default: Adam at ``config.sg_lr``.

    ``state_dict`` + ``optimizer_state_dict`` capture a run. ``M``, the aux head follow the core's dtype and device.
    """

    def __init__(
        self,
        core: nn.Module,
        head: nn.Module,
        config: EngineConfig,
        context_size: int = 0,
        optimizer: OptimizerFactory | None = None,
        sg_optimizer: OptimizerFactory | None = None,
    ):
        super().__init__()
        if config.method != "bptt" and computes_full_gradient(core):
            raise ValueError(
                "a core that computes the full-history gradient itself (RTRL, --cell rtu) has no boundary to bridge: "
                "train it with --method bptt"
            )
        self.core = core
        self.head = head
        self.config = config
        self.state_size = state_size(core.initial_state(1))
        reference = next(core.parameters(), None)
        placement = {"device": reference.device, "dtype": reference.dtype} if reference is not None else {}
        self.aux_head = (
            nn.Linear(core.output_size, self.state_size, **placement) if config.method == "dni_aux" else None
        )
        self.boundary = None
        if config.method != "bptt":
            self.boundary = SyntheticBoundary(
                self.state_size,
                scale=config.sg_scale,
                discount=config.bootstrap_discount,
                hidden_sizes=config.sg_hidden,
                context_size=context_size,
                lr=config.sg_lr,
                optimizer=(lambda params: (sg_optimizer or default_optimizer(config.sg_lr))(list(params))),
                grad_clip=config.sg_grad_clip,
                clip_prediction=config.sg_clip_prediction,
                target_ema=config.sg_target_ema,
                shuffle=config.sg_shuffle,
                least_squares=(
                    LeastSquaresFit(
                        self.state_size + context_size,
                        self.state_size,
                        config.sg_forgetting,
                        config.sg_ridge,
                        config.sg_solve_every,
                    )
                    if config.sg_solver == "least_squares"
                    else None
                ),
            ).to(**placement)
        self._trained_parameters = self.model_parameters()  # the guard's gradient norm reads them every window
        self.optimizer = (optimizer or default_optimizer(config.lr))(self._trained_parameters)
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self._distributed = False
        self._set_runners(self.core, self.head, self.aux_head)
        self.windows_seen = 0
        self.bad_windows = 0
        self.skipped_windows = 0
        self.probe = SGProbe(config.discount, config.probe_every, config.probe_windows, self._run_window)
        self._chain: deque = deque()  # n-step targets: (s_0 detached, window) of the last n - 1 windows

    # ----- the pieces ---------------------------------------------------------------------------------

    @property
    def synthetic_gradient(self) -> nn.Module | None:
        """``M`` (None for ``bptt``)."""
        return self.boundary.module if self.boundary is not None else None

    @property
    def sg_optimizer(self) -> torch.optim.Optimizer | None:
        return self.boundary.optimizer if self.boundary is not None else None

    @sg_optimizer.setter
    def sg_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        self.boundary.optimizer = optimizer

    def _set_runners(self, core, head, aux_head) -> None:
        """The callables of the training forward; kept out of ``_modules`` so that wrapping them in DDP
        changes neither ``state_dict`` keys nor checkpoints."""
        object.__setattr__(self, "_runners", (core, head, aux_head))

    def distribute(self, device_ids=None) -> None:
        """Average the gradients of the core, readout, aux head and M over the process group (DDP)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        def wrap(module):
            return DDP(module, device_ids=device_ids) if module is not None else None

        self._set_runners(wrap(self.core), wrap(self.head), wrap(self.aux_head))
        if self.boundary is not None:
            object.__setattr__(self.boundary, "runner", wrap(self.boundary.module))
        self._distributed = True

    def model_parameters(self) -> list[nn.Parameter]:
        """Everything but M: the core, the task's readout and the aux head."""
        modules = [self.core, self.head] + ([self.aux_head] if self.aux_head is not None else [])
        return [p for module in modules for p in module.parameters()]

    def set_lr_factor(self, factor: float) -> None:
        """Set the learning rate of the core's optimiser to ``factor`` times its initial value (a schedule)."""
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        return self.core.initial_state(batch_size, device, dtype)

    def _run_window(self, core: nn.Module, head: nn.Module, state: State, window: Window) -> tuple[Tensor, State]:
        """``(loss, s_T)`` of one window, for ``M``'s n-step targets and the probe: the loss whose future
        gradient ``M`` predicts (the head's loss less its :meth:`~dni_rnn.head.Head.sg_excluded_loss`)."""
        outputs, final = core(window.inputs, state, window.resets)
        loss = head.loss(outputs, window)[0]
        excluded = excluded_loss(head, outputs, window)
        return (loss if excluded is None else loss - excluded), final

    def aux_loss(self, aux_head: nn.Module, outputs: Tensor, boundary_grad: Tensor, window: Window) -> Tensor:
        """dni_aux: the outputs predict ``M(s_T)`` (:func:`dni_rnn.auxiliary.aux_loss`, ``config.aux_pooling``)."""
        resets = window.resets
        if self.core.batch_first:
            outputs = outputs.transpose(0, 1)  # (T, B, H)
            resets = resets.transpose(0, 1) if resets is not None else None
        return aux_loss(aux_head, outputs, boundary_grad, resets, self.config.aux_pooling)

    def check_window(self, window: Window, state: State) -> None:
        """Raise a ``ValueError`` naming the expected and the actual shape when ``window`` does not fit ``state``."""
        context_size = self.boundary.context_size if self.boundary is not None else 0
        check_window(window, state_tensors(state)[0].shape[1], self.core.batch_first, context_size)

    # ----- one window ---------------------------------------------------------------------------------

    def step(self, window: Window, state: State, collect_metrics: bool = True) -> tuple[State, dict[str, Tensor]]:
        """Train on one window starting from ``state``; returns the carried ``s_T`` and the window's metrics.

        Metrics are detached 0-d tensors (no host sync here but the guard's one finiteness check per window).
        ``collect_metrics=False`` (a window that will not be logged) leaves out the metrics that cost work of their
        own (``charts/sg_norm``, ``charts/delta_norm``, ``charts/sg_online_cosine``); the losses, the gradient norm
        (the guard computes it anyway) and the probe's metrics are always returned. The training is the same.
        """
        self.check_window(window, state)
        cfg = self.config
        boundary = self.boundary
        run_core, run_head, run_aux = self._runners
        probe_due = boundary is not None and self.probe.due(self.windows_seen)
        start = boundary.start(state) if boundary is not None else detach_state(state)
        outputs, final = run_core(window.inputs, start, window.resets)
        loss, metrics = run_head(outputs, window)
        task_loss = loss.detach()
        metrics = {"losses/task": task_loss, **metrics}
        objective = loss

        self.optimizer.zero_grad(set_to_none=True)
        if boundary is None:
            objective.backward()
        else:
            boundary_grad = boundary.prepare(final, window.next_resets, window.next_context)  # (B, S)
            if self.aux_head is not None:
                aux = self.aux_loss(run_aux, outputs, boundary_grad, window)
                objective = objective + cfg.aux_weight * aux
                metrics["losses/aux"] = aux.detach()
            if collect_metrics:
                metrics["charts/sg_norm"] = boundary_grad.norm(dim=-1).mean()
            inject = self.windows_seen >= cfg.sg_warmup_windows
            excluded = excluded_loss(self.head, outputs, window)
            direction = boundary.backward(
                objective, final, window.next_resets, window.next_context, inject=inject, excluded=excluded
            )
        grad_norm = self._grad_norm(self._trained_parameters, cfg.grad_clip)
        metrics["charts/grad_norm"] = grad_norm
        # Non-finite iff one of its terms is (inf - inf is NaN); the task loss's detached copy when it is the objective.
        guarded = (task_loss if objective is loss else objective.detach()) + grad_norm

        regression = None
        if boundary is not None:
            target = self._target(window, start)  # before the step: the weights of this window's graph
            if target is not None:
                regression = boundary.regression_loss(*target, collect_metrics)
                if collect_metrics:
                    metrics["charts/delta_norm"] = target[1].norm(dim=-1).mean()
                guarded = guarded + regression["losses/synthetic_grad"].detach()  # M is inside the guard
        finite = guarded * 0 == 0  # isfinite in two ops: inf * 0 and NaN * 0 are NaN

        if self._distributed:  # every rank skips a bad window together, or none does
            finite = finite.to(torch.int32)
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        if not bool(finite):
            if boundary is not None:
                boundary.discard()
                self._chain.clear()  # the n-step buffer may hold the bad window: start it afresh
            return self._skip_window(state, metrics)
        self.bad_windows = 0

        if probe_due:
            self.probe.snapshot(self.core, self.head)  # the weights M(s_T) was injected into
        self.optimizer.step()

        if boundary is not None:
            if regression is not None:
                boundary.step(regression["losses/synthetic_grad"])
                metrics.update({name: value.detach() for name, value in regression.items()})
            metrics.update(self.probe.observe(window))
            if probe_due:
                self.probe.begin(state, window, direction)

        self.windows_seen += 1
        return detach_state(final), metrics

    def _target(self, window: Window, start: State) -> tuple | None:
        """What ``M`` regresses on after this window: ``(flat s_0, target, context, keep)`` for this window's
        start (one-window target), or for the start ``n - 1`` windows back (n-step / lambda target)."""
        cfg = self.config
        boundary = self.boundary
        flat_start, newest = boundary.pending
        boundary.pending = None
        first_reset = first_resets(window, self.core.batch_first)
        if cfg.sg_target_windows == 1:
            return flat_start, newest, window.context, None if first_reset is None else ~first_reset
        self._chain.append((detach_state(start), window))
        if len(self._chain) < cfg.sg_target_windows:
            return None
        oldest_state, oldest = self._chain.popleft()
        chain = [w for _, w in self._chain]

        def bootstrap(flat: Tensor, w: Window) -> Tensor:
            return boundary.predict(flat, w.next_context, w.next_resets, target=True)

        def run_window(state: State, w: Window) -> tuple[Tensor, State]:
            return self._run_window(self.core, self.head, state, w)

        target = lambda_target(
            run_window, oldest_state, [oldest, *chain[:-1]], bootstrap, newest, cfg.discount, cfg.sg_lambda
        )
        first = first_resets(oldest, self.core.batch_first)
        return flatten_state(oldest_state), target, oldest.context, None if first is None else ~first

    @staticmethod
    def _grad_norm(parameters: list[nn.Parameter], max_norm: float | None) -> Tensor:
        with_grads = [p for p in parameters if p.grad is not None]
        if not with_grads:
            return torch.zeros(())  # a model with nothing to train has a finite, zero gradient
        total = torch.nn.utils.get_total_norm([p.grad for p in with_grads], foreach=True)
        if max_norm is not None:  # no clip: no rescaling by 1 either
            torch.nn.utils.clip_grads_with_norm_(with_grads, max_norm, total, foreach=True)
        return total

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

    def future_gradient(self, start_state: State, windows: list[Window]) -> Tensor:
        """``B d/ds sum_j discount^j L_j`` ``[B, S]``: the true discounted gradient at ``s`` of the given
        windows' losses, run from ``s`` with the current parameters, in M's per-entry units."""
        start = leaf_state(start_state)
        state, total = start, 0.0
        for j, window in enumerate(windows):
            loss, state = self._run_window(self.core, self.head, state, window)
            total = total + self.config.discount**j * loss
        flat = flatten_grads(torch.autograd.grad(total, state_tensors(start), allow_unused=True), start)
        return flat.shape[0] * flat

    # ----- checkpoints ---------------------------------------------------------------------------------

    def optimizer_state_dict(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "sg_optimizer": self.boundary.optimizer_state_dict() if self.boundary is not None else None,
            "windows_seen": self.windows_seen,
            "skipped_windows": self.skipped_windows,
            "bad_windows": self.bad_windows,
            "target_chain": list(self._chain),
            "probe": self.probe.state_dict(),
        }

    def load_optimizer_state_dict(self, state: dict, keep_learning_rates: bool = False) -> None:
        """Restore both optimisers and the engine's counters; ``keep_learning_rates`` keeps this engine's
        configured rates instead of the saved ones (a branch with other rates)."""
        load_keeping_rates(self.optimizer, state["optimizer"], keep_learning_rates)
        if self.boundary is not None:
            self.boundary.load_optimizer_state_dict(state["sg_optimizer"], keep_learning_rates)
        self.windows_seen = state["windows_seen"]
        self.skipped_windows = state["skipped_windows"]
        self.bad_windows = state["bad_windows"]
        # Checkpoints load on the CPU: the saved windows and states go back to the model's device.
        reference = next(self.core.parameters(), None)
        device = reference.device if reference is not None else None
        self._chain = deque(to_device(state.get("target_chain", []), device))
        if "probe" in state:  # (checkpoints from before the probe was saved have none)
            probe = {**state["probe"], "pending": to_device(state["probe"]["pending"], device)}
            self.probe.load_state_dict(probe, self.core, self.head)


def excluded_loss(head: nn.Module, outputs: Tensor, window: Window) -> Tensor | None:
    """``head.sg_excluded_loss(outputs, window)``, or None for a head without one (any module with a ``loss``)."""
    method = getattr(head, "sg_excluded_loss", None)
    return method(outputs, window) if method is not None else None


def to_device(value, device: torch.device | None):
    """``value`` (tensors in lists, tuples, NamedTuples such as :class:`Window`, dicts) with its tensors on ``device``."""
    if device is None:
        return value
    if torch.is_tensor(value):
        return value.to(device)
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(to_device(item, device) for item in value))
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(item, device) for item in value)
    return value
