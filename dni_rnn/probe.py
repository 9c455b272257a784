"""The SG-quality probe: how close is ``M(s_T)`` to the gradient the future really sends back?

Every ``every`` windows the probe starts at a window ``k`` that ends in ``s = s_T^k``. It keeps a snapshot of
the core and the loss *as they were when M(s) was injected* (before window k's update), the window itself
and its start state. Once ``windows`` more windows have streamed past it computes, with the snapshot:

* ``g_true = B d/ds sum_{j<P} gamma^j L_{k+1+j}``: the true discounted future gradient at ``s``, truncated
  after ``P`` windows (what ``M``'s bootstrapped target converges to), in ``M``'s per-entry units;
* ``charts/sg_cosine``: the cosine between the injected direction and ``g_true`` pooled over the batch
  entries whose next step does not start a new episode (at the others no gradient crosses by construction);
* ``charts/sg_param_cosine``: the alignment that drives learning, in parameter space:
  ``cos(J_theta^T m, J_theta^T g_true)``, the parameter gradients that window ``k`` receives from the
  injected direction ``m`` and from the true future gradient;
* ``charts/sg_param_cosine_shuffled``: the same with ``m`` permuted across the batch (a random cyclic shift, so
  that no entry keeps its own prediction), the chance level of the metric for this run (a prediction that
  carries only ``M``'s marginal statistics);
* ``charts/sg_relative_error``: ``||m - g_true|| / ||g_true||`` over those entries.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from dni_rnn.state import (
    State,
    detach_state,
    flatten_grads,
    flatten_state,
    leaf_state,
    state_tensors,
)


def _cosine(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-30)


class SGProbe:
    """Measures the synthetic gradient against the true future gradient (see the module docstring).

    Args:
        discount: ``gamma`` of the true future gradient (the bootstrap discount).
        every: start a probe every this many windows (0: never).
        windows: ``P``, how many future windows the probe backpropagates through.
        run_window: ``(core, head, state, window) -> (loss, next_state)``.
    """

    def __init__(
        self,
        discount: float,
        every: int,
        windows: int,
        run_window: Callable[[nn.Module, nn.Module, State, object], tuple[Tensor, State]],
    ):
        self.discount, self.every, self.windows, self.run_window = discount, every, windows, run_window
        self._snapshot: tuple[nn.Module, nn.Module] | None = None
        self._pending: tuple | None = None
        # The shuffled chance level's permutations: a generator of its own (checkpointed), so that the probe
        # never draws from the global RNG the run's other random numbers come from.
        self.generator = torch.Generator().manual_seed(0)

    @property
    def active(self) -> bool:
        return self._pending is not None

    def due(self, windows_seen: int) -> bool:
        """Whether the window about to be trained starts a probe (snapshot before its update)."""
        return bool(self.every) and self._pending is None and windows_seen % self.every == 0

    def snapshot(self, core: nn.Module, loss: nn.Module) -> None:
        """Copy the core and the loss before the window's optimiser step."""
        self._snapshot = (copy.deepcopy(core), copy.deepcopy(loss))

    def begin(self, start_state: State, window, injected_direction: Tensor) -> None:
        """Start after window ``k``: its start state, itself, and the direction ``m`` ``[B, S]`` injected at its end."""
        if self._snapshot is None:
            return
        self._pending = (detach_state(start_state), window, injected_direction.detach(), [])

    def observe(self, window) -> dict[str, Tensor]:
        """Feed the next window; returns the probe's metrics once ``windows`` windows have passed."""
        if self._pending is None:
            return {}
        start_state, probed, direction, future = self._pending
        future.append(window)
        if len(future) < self.windows:
            return {}
        self._pending = None
        core, loss = self._snapshot
        self._snapshot = None
        return self.measure(core, loss, start_state, probed, direction, future)

    def measure(self, core, loss, start_state, probed, direction, future) -> dict[str, Tensor]:
        with torch.enable_grad():
            # Window k from its start, with the snapshot: s_T^k in the graph of the parameters.
            _, final = self.run_window(core, loss, leaf_state(start_state), probed)
            boundary = leaf_state(detach_state(final))
            state, total = boundary, 0.0
            for j, window in enumerate(future):
                window_loss, state = self.run_window(core, loss, state, window)
                total = total + self.discount**j * window_loss
            grads = torch.autograd.grad(total, state_tensors(boundary), allow_unused=True)
            true = flatten_grads(grads, boundary)
            true = true.shape[0] * true  # (B, S) per-entry units
            keep = torch.ones(true.shape[0], dtype=torch.bool, device=true.device)
            if probed.next_resets is not None:
                keep = ~probed.next_resets
            weight = keep.to(true.dtype).unsqueeze(-1)
            true, direction = true * weight, direction * weight
            # A random cyclic shift: a permutation in which no entry keeps its own prediction (a plain random
            # permutation of a small batch often leaves most entries in place and scores near 1).
            batch = direction.shape[0]
            shift = int(torch.randint(1, batch, (1,), generator=self.generator)) if batch > 1 else 0
            shuffled = direction.roll(shift, dims=0) * weight
            params = [p for p in list(core.parameters()) + list(loss.parameters()) if p.requires_grad]
            flat_final = flatten_state(final)

            def parameter_grad(vector: Tensor) -> Tensor:
                grads = torch.autograd.grad(flat_final, params, vector, retain_graph=True, allow_unused=True)
                return torch.cat(
                    [(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)]
                )

            along_true = parameter_grad(true)
            return {
                "charts/sg_cosine": _cosine(direction, true).detach(),
                "charts/sg_relative_error": ((direction - true).norm() / true.norm().clamp_min(1e-30)).detach(),
                "charts/sg_param_cosine": _cosine(parameter_grad(direction), along_true).detach(),
                "charts/sg_param_cosine_shuffled": _cosine(parameter_grad(shuffled), along_true).detach(),
            }

    def state_dict(self) -> dict:
        """A probe under way (the snapshot's weights, the probed window and the windows since) and the generator,
        so that a resumed run measures what an uninterrupted one would."""
        snapshot = None if self._snapshot is None else tuple(module.state_dict() for module in self._snapshot)
        return {"generator": self.generator.get_state(), "pending": self._pending, "snapshot": snapshot}

    def load_state_dict(self, state: dict, core: nn.Module, loss: nn.Module) -> None:
        """Restore :meth:`state_dict`; the snapshot is rebuilt as copies of ``core`` and ``loss`` (the live
        modules, on their device) holding the saved weights."""
        self.generator.set_state(state["generator"])
        self._pending = state["pending"]
        self._snapshot = None
        if state["snapshot"] is not None:
            self._snapshot = (copy.deepcopy(core), copy.deepcopy(loss))
            for module, weights in zip(self._snapshot, state["snapshot"]):
                module.load_state_dict(weights)
