"""``SyntheticBoundary``: the synthetic gradient at a window boundary, for any training loop."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

from dni_rnn.config import check_value
from dni_rnn.least_squares import LeastSquaresFit
from dni_rnn.state import (
    State,
    detach_state,
    flatten_grads,
    flatten_state,
    leaf_state,
    state_tensors,
    unflatten_state,
)
from dni_rnn.synthetic_gradient import SyntheticGradient

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


def load_keeping_rates(optimizer: torch.optim.Optimizer, state: dict, keep_learning_rates: bool) -> None:
    """``optimizer.load_state_dict(state)``; with ``keep_learning_rates`` its groups keep their current rates."""
    rates = [group["lr"] for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    if keep_learning_rates:
        for group, rate in zip(optimizer.param_groups, rates):
            group["lr"] = rate


def _end_grads(flat: Tensor, final: State) -> list[Tensor]:
    """``flat`` ``[B, S]`` as gradients for the tensors of ``final`` that are in the graph (in their order)."""
    pieces = state_tensors(unflatten_state(flat, final))
    return [g for g, t in zip(pieces, state_tensors(final)) if t.requires_grad]


class SyntheticBoundary(nn.Module):
    r"""The synthetic-gradient module ``M`` at a window boundary, with its optimiser and its bootstrapped target.

    One window of truncated BPTT with a synthetic boundary gradient, in the user's own loop::

        boundary = SyntheticBoundary(state_size, scale=0.1)
        start = boundary.start(state)                         # s_0, a leaf that requires grad
        outputs, final = core(inputs, start)
        loss = loss_fn(outputs)                               # normalised the same way in every window
        boundary.backward(loss, final, next_resets=done)      # ONE backward of loss + <scale * M(s_T), s_T> / B
        optimizer.step()                                      # the user's optimiser, clipping, schedule
        boundary.update()                                     # M regresses on its bootstrapped target delta_0
        state = boundary.carry(final)                         # detached

    What :meth:`backward` computes, with ``B`` the batch size and ``m = M(s_T)`` (stopgrad; 0 where the next
    step starts a new episode)::

        objective = loss + (scale / B) * <m, s_T>
        delta_0   = B * d objective / d s_0  +  J^T (discount * m' - scale * m)

    where ``J^T v = d<v, s_T>/ds_0`` and ``m' = m``, or the prediction of a slowly updated target copy of
    ``M`` when ``target_ema > 0`` (less ``B d excluded / d s_0`` for a part of the loss that ``M`` leaves out).
    With ``discount == scale``, no target copy and nothing excluded the correction is 0 and one backward gives
    everything; otherwise a second, state-only backward supplies it. :meth:`update` then takes
    one optimiser step on ``sum_b ||M(s_0[b]) - delta_0[b]||^2 / B``. ``M`` predicts per-entry gradients
    (the gradient of one entry's own loss); the ``1/B`` of a batch-mean loss is applied at injection.

    Guarantees (tested): ``M == 0`` gives exactly truncated BPTT; injecting the true future gradient gives
    exactly full BPTT over the windows, and ``delta_0`` is then the true gradient at ``s_0``.

    Args:
        state_size: ``S``, the width of the flattened carried state (:func:`dni_rnn.state.state_size`).
        scale: injection scale: the parameters see ``scale * M(s_T)``. Default: 0.1.
        discount: bootstrap discount of ``M(s_T)`` in ``delta_0``; ``None`` ties it to ``scale``. Default: None.
        hidden_sizes: hidden widths of ``M``; ``()`` for a linear ``M``. Default: ``()``.
        context_size: width of a conditioning input of ``M`` (cDNI); 0 for none. Default: 0.
        lr: learning rate of the default optimiser of ``M`` (Adam). Default: 1e-3.
        optimizer: a factory ``params -> torch.optim.Optimizer`` replacing the default. Default: None.
        grad_clip: max global gradient norm of ``M``'s update; ``None``: no clipping. Default: 1.0.
        clip_prediction: clamp every entry of ``M(s_T)`` to ``[-x, x]`` before use; ``None``: no clamp.
        target_ema: ``tau`` of a target copy ``M' <- (1 - tau) M' + tau M`` used for the bootstrap; 0 bootstraps
            with ``M`` itself. Default: 0.
        shuffle: the shuffled-M control: the injected predictions are permuted across the batch (``M`` still
            learns on unshuffled targets), so only ``M``'s marginal statistics reach the core. Default: False.
        least_squares: a :class:`~dni_rnn.least_squares.LeastSquaresFit` that replaces the optimiser of a
            linear ``M`` by an exponentially weighted least-squares fit. Default: None (the optimiser).

    Inputs of :meth:`backward`: ``loss`` a scalar; ``final`` the state at the window's end (LSTM:
    ``LSTMState`` of ``[layers, B, H]`` tensors); ``next_resets`` ``[B]`` bool; ``next_context`` ``[B, C]``.
    """

    def __init__(
        self,
        state_size: int,
        scale: float = 0.1,
        discount: float | None = None,
        hidden_sizes: Sequence[int] = (),
        context_size: int = 0,
        lr: float = 1e-3,
        optimizer: OptimizerFactory | None = None,
        grad_clip: float | None = 1.0,
        clip_prediction: float | None = None,
        target_ema: float = 0.0,
        shuffle: bool = False,
        least_squares: LeastSquaresFit | None = None,
    ):
        super().__init__()
        for name, value, low, high in (
            ("state_size", state_size, 1, None),
            ("scale", scale, 0.0, None),
            ("discount", discount, 0.0, None),
            ("lr", lr, 0.0, None),
            ("target_ema", target_ema, 0.0, 1.0),
            ("grad_clip", grad_clip, 0.0, None),
            ("clip_prediction", clip_prediction, 0.0, None),
        ):
            check_value(name, value, low, high, label=name)  # None (an option left unset) passes
        self.scale = scale
        self.discount = scale if discount is None else discount
        self.grad_clip = grad_clip
        self.clip_prediction = clip_prediction
        self.target_ema = target_ema
        self.shuffle = shuffle
        self.module = SyntheticGradient(state_size, hidden_sizes, context_size)
        self.target_module = copy.deepcopy(self.module).requires_grad_(False) if target_ema else None
        if least_squares is not None and hidden_sizes:
            raise ValueError("a least-squares M must be linear (hidden_sizes=())")
        self.least_squares = least_squares
        factory = optimizer or (lambda params: torch.optim.Adam(params, lr=lr, fused=True))
        self.optimizer = factory(self.module.parameters()) if least_squares is None else None
        self._regressed: tuple | None = None  # the last regression's inputs, for a least-squares step
        self.generator = torch.Generator().manual_seed(0)  # the shuffled control's permutations
        self.runner: nn.Module | None = None  # M wrapped for data parallel (set by the engine), else M
        self._start: State | None = None
        self._prepared: tuple[State, Tensor, Tensor, Tensor] | None = None  # s_T, flat s_T, m, bootstrap vector
        self.pending: tuple[Tensor, Tensor] | None = None  # flat s_0 (detached), delta_0

    # The per-window bookkeeping is plain Python state, assigned several times a window: nn.Module.__setattr__
    # looks for parameters, buffers and submodules on every assignment (bypassing it measured ~0.08 less of
    # the T = 2 window in `python -m scripts.bench --quick`).
    _PER_WINDOW = frozenset({"_start", "_prepared", "pending", "_regressed"})

    def __setattr__(self, name: str, value) -> None:
        if name in self._PER_WINDOW:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def context_size(self) -> int:
        return self.module.context_size

    # ----- the window -------------------------------------------------------------------------------

    def start(self, state: State) -> State:
        """``s_0``: a detached copy of ``state`` that requires grad, so the backward leaves ``d/ds_0``."""
        self._start = leaf_state(state)
        return self._start

    def predict(
        self, flat_state: Tensor, context: Tensor | None = None, next_resets: Tensor | None = None, target: bool = False
    ) -> Tensor:
        """``M(s)`` ``[B, S]`` for a flattened state ``[B, S]`` (stopgrad), clamped if asked, zero where
        ``next_resets`` ``[B]`` says the next step starts a new episode. ``target``: use the target copy."""
        module = self.target_module if target and self.target_module is not None else self.module
        with torch.no_grad():  # no graph: no detach needed either
            grad = module(flat_state, context)
            if self.clip_prediction is not None:
                grad = grad.clamp(-self.clip_prediction, self.clip_prediction)
            if next_resets is not None:  # one fused op, and a non-finite prediction there becomes 0, not NaN
                grad = grad.masked_fill(next_resets.unsqueeze(-1), 0.0)
        return grad

    def prepare(self, final: State, next_resets: Tensor | None = None, next_context: Tensor | None = None) -> Tensor:
        """Predict ``m = M(s_T)`` ``[B, S]`` for the coming :meth:`backward` and return it (for an auxiliary
        loss that reads it); :meth:`backward` calls this itself when it was not called."""
        with torch.no_grad():  # (B, S), out of the graph: the injection reaches s_T as its gradient
            flat_final = flatten_state(final)
        grad = self.predict(flat_final, next_context, next_resets)
        bootstrap = grad
        if self.target_module is not None:
            bootstrap = self.predict(flat_final, next_context, next_resets, target=True)
        self._prepared = (final, flat_final, grad, bootstrap)
        return grad

    def direction(self, grad: Tensor) -> Tensor:
        """The direction injected at ``s_T``, ``[B, S]``: ``m``, or ``m`` permuted across the batch for the
        shuffled control (its own generator, checkpointed, so that resuming stays exact)."""
        if not self.shuffle:
            return grad
        permutation = torch.randperm(grad.shape[0], generator=self.generator).to(grad.device)
        return grad[permutation]

    def backward(
        self,
        loss: Tensor,
        final: State,
        next_resets: Tensor | None = None,
        next_context: Tensor | None = None,
        inject: bool = True,
        excluded: Tensor | None = None,
    ) -> Tensor:
        """One backward of ``loss + (scale / B) <m, s_T>``; records ``delta_0`` for :meth:`update`.

        ``inject=False`` (a warm-up) injects nothing while ``delta_0`` keeps the discounted bootstrap.
        ``excluded``: a scalar part of ``loss`` (in its graph) that the parameters are trained on but ``delta_0``
        leaves out, ``- B d excluded / d s_0`` (a second, state-only backward): ``M`` then predicts the future
        gradient of ``loss - excluded`` only. Returns the injected direction ``[B, S]`` (``m``, permuted for the
        shuffled control), unscaled.
        """
        if self._start is None:
            raise RuntimeError("SyntheticBoundary.backward: call start(state) before running the core")
        if self._prepared is None:
            self.prepare(final, next_resets, next_context)
        final, flat_final, grad, bootstrap = self._prepared
        self._prepared = None
        batch = flat_final.shape[0]
        scale = self.scale if inject else 0.0
        direction = self.direction(grad)
        needs_correction = (
            self.shuffle or self.target_module is not None or self.discount != scale or excluded is not None
        )
        # d/ds_T of (scale / B) <direction, s_T> is (scale / B) direction: handed to autograd as s_T's gradient, the
        # same backward as that of the inner product, without forming it (or its backward) in the graph.
        ends = [t for t in state_tensors(final) if t.requires_grad]
        injected = direction * (scale / batch)
        tensors, grads = [loss], [None]
        if scale and ends:
            tensors += ends
            grads += _end_grads(injected, final)
        torch.autograd.backward(tensors, grads, retain_graph=needs_correction)
        start = self._start
        delta = flatten_grads([t.grad for t in state_tensors(start)], start).mul_(batch)  # (B, S), a fresh tensor
        if needs_correction:
            # J^T (bootstrap - injected) - B d excluded / d s_0: a second, state-only backward, taken before any
            # optimiser step changes the weights the graph saved.
            roots, seeds = [], []
            if ends:
                roots += ends
                seeds += _end_grads(self.discount * bootstrap - scale * direction, final)
            if excluded is not None:
                roots.append(excluded)
                seeds.append(torch.full_like(excluded, -float(batch)))
            if roots:
                carried = torch.autograd.grad(roots, state_tensors(start), seeds, allow_unused=True)
                delta = delta + flatten_grads(carried, start)
        self.pending = (flatten_state(detach_state(start)), delta)
        self._start = None
        return direction

    def discard(self) -> None:
        """Forget the window (a non-finite loss): :meth:`update` will then do nothing."""
        self._start, self._prepared, self.pending = None, None, None

    def update(self, context: Tensor | None = None, keep: Tensor | None = None) -> dict[str, Tensor]:
        """One step of ``M`` on the target recorded by :meth:`backward`; ``keep`` ``[B]`` bool leaves out
        entries whose ``s_0`` has no future to predict (reset at step 0). Returns metrics (detached)."""
        if self.pending is None:
            return {}
        flat_start, delta = self.pending
        self.pending = None
        return self.regress(flat_start, delta, context, keep)

    def regress(
        self, flat_state: Tensor, target: Tensor, context: Tensor | None = None, keep: Tensor | None = None
    ) -> dict[str, Tensor]:
        """One optimiser step of ``M`` on :meth:`regression_loss`; returns its metrics."""
        metrics = self.regression_loss(flat_state, target, context, keep)
        self.step(metrics["losses/synthetic_grad"])
        return {name: value.detach() for name, value in metrics.items()}

    def regression_loss(
        self,
        flat_state: Tensor,
        target: Tensor,
        context: Tensor | None = None,
        keep: Tensor | None = None,
        cosine: bool = True,
    ) -> dict[str, Tensor]:
        """``sum_b keep_b ||M(s[b]) - target[b]||^2 / B`` (``[B, S]`` each; ``keep`` ``[B]`` bool or None).

        Left-out entries are selected out, not multiplied by 0, so a non-finite state there (an episode that
        just ended) cannot reach ``M``'s weights. Returns ``losses/synthetic_grad`` (in the graph of ``M``)
        and, unless ``cosine=False`` (a window that is not logged), ``charts/sg_online_cosine``, the cosine
        between ``M(s)`` and its target pooled over the kept entries (the batch's aligned part adds up, as it
        does in the parameter update).
        """
        target = target.detach()
        flat_state = flat_state.detach()
        if keep is not None:
            rows = keep.unsqueeze(-1)
            flat_state, target = torch.where(rows, flat_state, 0.0), torch.where(rows, target, 0.0)
            context = torch.where(rows, context, 0.0) if context is not None else None
        self._regressed = (flat_state, context, target, keep)
        prediction = (self.runner or self.module)(flat_state, context)  # (B, S)
        if keep is not None:  # a left-out row then has prediction 0 and target 0: it adds exactly 0
            prediction = torch.where(rows, prediction, 0.0)
        # One fused kernel (and one in the backward) for the squared error summed over S and over the batch.
        metrics = {
            "losses/synthetic_grad": nn.functional.mse_loss(prediction, target, reduction="sum") / prediction.shape[0]
        }
        if cosine:
            with torch.no_grad():
                dot = torch.vdot(prediction.flatten(), target.flatten())  # one kernel, no [B, S] product
                metrics["charts/sg_online_cosine"] = dot / (prediction.norm() * target.norm()).clamp_min(1e-30)
        return metrics

    def step(self, sg_loss: Tensor) -> None:
        """Backward of ``M``'s regression loss, clipping, the optimiser step and the target copy's update
        (or, for a least-squares ``M``, fold the last regression's batch in and re-solve when due)."""
        if self.least_squares is not None:
            flat_state, context, target, keep = self._regressed
            inputs = flat_state if context is None else torch.cat([flat_state, context], dim=-1)
            self.least_squares.accumulate(inputs, target, keep)
            if self.least_squares.due():
                self.least_squares.solve_into(self.module.net[-1])
        else:
            self.optimizer.zero_grad(set_to_none=True)
            sg_loss.backward()
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(list(self.module.parameters()), self.grad_clip)
            self.optimizer.step()
        self._regressed = None
        if self.target_module is not None:
            with torch.no_grad():
                for online, slow in zip(self.module.parameters(), self.target_module.parameters()):
                    slow.lerp_(online, self.target_ema)

    @staticmethod
    def carry(final: State) -> State:
        """The state to carry into the next window: ``s_T`` detached."""
        return detach_state(final)

    # ----- checkpoints ------------------------------------------------------------------------------

    def optimizer_state_dict(self) -> dict:
        optimizer = self.optimizer.state_dict() if self.optimizer is not None else None
        return {"optimizer": optimizer, "generator": self.generator.get_state()}

    def load_optimizer_state_dict(self, state: dict, keep_learning_rates: bool = False) -> None:
        if self.optimizer is not None:
            load_keeping_rates(self.optimizer, state["optimizer"], keep_learning_rates)
        self.generator.set_state(state["generator"])
