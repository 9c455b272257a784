"""One engine window against its definition written out by hand (docs/ALGORITHM.md), every mask included.

The window has an entry reset at step 0 (its s_0 has no future: left out of M's loss), an entry reset
inside the window (the aux loss keeps only the steps of s_T's episode), and an entry whose next step
starts a new episode (no synthetic gradient is injected there, and the aux head regresses the masked M).
"""

import pytest
import torch
from helpers import RegressionLoss, probe_engine
from test_gradients import BATCH, FEATURES, HIDDEN, HORIZON, OUT, grads_of

from dni_rnn.cores import LSTMCore
from dni_rnn.engine import Window
from dni_rnn.probe import SGProbe
from dni_rnn.state import LSTMState, flatten_state, state_tensors

SCALE, DISCOUNT, AUX_WEIGHT = 0.3, 0.7, 0.5


def window_with_every_mask():
    gen = torch.Generator().manual_seed(3)
    resets = torch.zeros(HORIZON, BATCH, dtype=torch.bool)
    resets[0, 1] = True  # entry 1: a new episode starts at step 0
    resets[1, 2] = True  # entry 2: a new episode starts inside the window
    next_resets = torch.zeros(BATCH, dtype=torch.bool)
    next_resets[3] = True  # entry 3: the step after the window starts a new episode
    return Window(
        torch.randn(HORIZON, BATCH, FEATURES, generator=gen),
        torch.randn(HORIZON, BATCH, OUT, generator=gen),
        None,
        resets,
        next_resets,
    )


def per_step_aux(aux_head, outputs, m, resets):
    episode = resets.long().cumsum(0)
    same_episode = (episode == episode[-1:]).float()
    return ((aux_head(outputs) - m).pow(2).sum(-1) * same_episode).sum() / same_episode.numel()


def mean_pooled_aux(aux_head, outputs, m, resets):
    """aux_pooling="mean": each entry's outputs averaged from its last reset in the window (or step 0) on."""
    errors = []
    for b in range(outputs.shape[1]):
        reset_steps = [t for t in range(outputs.shape[0]) if resets[t, b]]
        first = reset_steps[-1] if reset_steps else 0
        pooled = outputs[first:, b].mean(0)
        errors.append((aux_head(pooled) - m[b]).pow(2).sum())
    return torch.stack(errors).mean()


def by_hand(core, loss_fn, aux_head, sg, start_state, window, aux_fn=per_step_aux):
    """Parameter gradients of core, head and aux head, and M's gradient, from the written-out definition."""
    start = LSTMState(*(t.clone().requires_grad_(True) for t in start_state))
    outputs, final = core(window.inputs, start, window.resets)
    flat_final = flatten_state(final)
    m = sg(flat_final.detach()).detach() * (~window.next_resets).unsqueeze(-1)
    aux = aux_fn(aux_head, outputs, m, window.resets)
    objective = loss_fn(outputs, window)[0] + SCALE / BATCH * (m * flat_final).sum() + AUX_WEIGHT * aux
    grads = torch.autograd.grad(
        objective, [*core.parameters(), *loss_fn.parameters(), *aux_head.parameters(), *start], retain_graph=True
    )
    n_params = len(grads) - 2
    delta = BATCH * torch.cat([g.transpose(0, 1).flatten(1) for g in grads[n_params:]], -1)
    carried = torch.autograd.grad(flat_final, list(start), m)
    delta = delta + (DISCOUNT - SCALE) * torch.cat([g.transpose(0, 1).flatten(1) for g in carried], -1)
    keep = (~window.resets[0]).float()
    sg_loss = (((sg(flatten_state(start_state)) - delta).pow(2).sum(-1)) * keep).sum() / BATCH
    sg_grads = torch.autograd.grad(sg_loss, list(sg.parameters()))
    return list(grads[:n_params]), list(sg_grads)


@pytest.mark.parametrize("pooling", ["steps", "mean"])
def test_dni_aux_window_matches_its_definition(pooling):
    torch.manual_seed(0)
    core, loss_fn = LSTMCore(FEATURES, HIDDEN, 2), RegressionLoss(HIDDEN, OUT)
    engine = probe_engine(
        core,
        loss_fn,
        method="dni_aux",
        sg_scale=SCALE,
        bootstrap_discount=DISCOUNT,
        aux_weight=AUX_WEIGHT,
        sg_grad_clip=None,
        aux_pooling=pooling,
    )
    engine.sg_optimizer = torch.optim.SGD(engine.synthetic_gradient.parameters(), lr=0.0)
    torch.nn.init.normal_(engine.synthetic_gradient.net[-1].weight, std=0.3)
    torch.nn.init.normal_(engine.synthetic_gradient.net[-1].bias, std=0.3)
    window = window_with_every_mask()
    start_state = LSTMState(*(torch.randn_like(t) for t in state_tensors(engine.initial_state(BATCH))))
    aux_fn = per_step_aux if pooling == "steps" else mean_pooled_aux
    want_params, want_sg = by_hand(
        core, loss_fn, engine.aux_head, engine.synthetic_gradient, start_state, window, aux_fn
    )

    engine.step(window, start_state)
    got_params = grads_of(engine.core) + grads_of(engine.head) + grads_of(engine.aux_head)
    for got, want in zip(got_params, want_params, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    for got, want in zip(grads_of(engine.synthetic_gradient), want_sg, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    # The definition pins both masks: the steps before entry 2's reset, and the aux gradient reaching the core.
    for wrong in (
        lambda head, out, m, resets: aux_fn(head, out, m, torch.zeros_like(resets)),
        lambda head, out, m, resets: aux_fn(head, out.detach(), m, resets),
    ):
        wrong_params, _ = by_hand(core, loss_fn, engine.aux_head, engine.synthetic_gradient, start_state, window, wrong)
        assert not all(
            torch.allclose(g, w, rtol=1e-4, atol=1e-6)
            for g, w in zip(grads_of(engine.core), wrong_params, strict=False)
        )


def test_engine_probe_uses_the_bootstrap_discount():
    """The probe's reference is discounted by the bootstrap discount (M's fixed point), not the injection scale."""
    engine = probe_engine(
        LSTMCore(FEATURES, HIDDEN),
        RegressionLoss(HIDDEN, OUT),
        method="dni",
        sg_scale=SCALE,
        bootstrap_discount=DISCOUNT,
        probe_every=1,
    )
    assert isinstance(engine.probe, SGProbe) and engine.probe.discount == DISCOUNT


@pytest.mark.parametrize("method", ["dni", "dni_aux"])
def test_m_reads_the_state_exactly(method):
    """M's inputs are flatten(s_T) at the boundary and flatten(s_0) in its regression, bit for bit."""
    engine = probe_engine(LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT), method=method)
    seen = []
    forward = engine.synthetic_gradient.forward
    engine.synthetic_gradient.forward = lambda flat, context=None: (seen.append(flat), forward(flat, context))[1]
    window = window_with_every_mask()._replace(resets=None)
    start_state = LSTMState(*(torch.randn_like(t) for t in state_tensors(engine.initial_state(BATCH))))
    final, _ = engine.step(window, start_state)
    assert torch.equal(seen[0], flatten_state(final)) and torch.equal(seen[1], flatten_state(start_state))


@pytest.mark.parametrize("pooling", ["steps", "mean"])
def test_dni_aux_batch_first_equals_time_major(pooling):
    """A batch_first core sees the same aux loss (outputs and resets transposed) as a time-major one."""
    grads = []
    for batch_first in (False, True):
        torch.manual_seed(0)
        core, loss_fn = LSTMCore(FEATURES, HIDDEN, batch_first=batch_first), RegressionLoss(HIDDEN, OUT)
        engine = probe_engine(core, loss_fn, method="dni_aux", aux_pooling=pooling, sg_grad_clip=None)
        torch.nn.init.normal_(engine.synthetic_gradient.net[-1].weight, std=0.3)
        window = window_with_every_mask()
        if batch_first:
            window = window._replace(
                inputs=window.inputs.transpose(0, 1),
                targets=window.targets.transpose(0, 1),
                resets=window.resets.transpose(0, 1),
            )
        engine.step(window, LSTMState(*(torch.ones_like(t) for t in state_tensors(engine.initial_state(BATCH)))))
        grads.append(grads_of(engine.core) + grads_of(engine.aux_head))
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def test_the_engine_takes_the_users_optimisers_and_defaults_to_adam():
    from helpers import make_stream, windows_of

    from dni_rnn.engine import EngineConfig, WindowEngine

    (window,) = windows_of(*make_stream(HORIZON, BATCH, FEATURES, OUT), HORIZON)
    default = WindowEngine(LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT), EngineConfig(method="dni"))
    assert isinstance(default.optimizer, torch.optim.Adam) and isinstance(default.sg_optimizer, torch.optim.Adam)
    frozen = WindowEngine(
        LSTMCore(FEATURES, HIDDEN),
        RegressionLoss(HIDDEN, OUT),
        EngineConfig(method="dni"),
        optimizer=lambda params: torch.optim.SGD(params, lr=0.0),
        sg_optimizer=lambda params: torch.optim.SGD(params, lr=0.0),
    )
    assert isinstance(frozen.optimizer, torch.optim.SGD) and isinstance(frozen.sg_optimizer, torch.optim.SGD)
    before = {name: p.detach().clone() for name, p in frozen.named_parameters()}
    frozen.step(window, frozen.initial_state(BATCH))
    for name, p in frozen.named_parameters():
        assert torch.equal(p, before[name]), name  # lr 0: the user's optimisers made every update
