"""The gradient math of SPEC section 1, pinned by equivalence with truncated and full BPTT."""

import itertools

import pytest
import torch
from helpers import RegressionLoss, make_stream, probe_engine, record_targets, windows_of

from dni_rnn.cores import GRUCore, LSTMCore
from dni_rnn.state import flatten_state, leaf_state, map_state, state_tensors

CASES = list(itertools.product(["lstm", "gru"], [1, 2], [0.0, 0.15]))
FEATURES, HIDDEN, OUT, BATCH, STEPS, HORIZON = 3, 5, 2, 4, 12, 3


def build(cell, layers):
    core = (LSTMCore if cell == "lstm" else GRUCore)(FEATURES, HIDDEN, layers)
    return core, RegressionLoss(HIDDEN, OUT)


def grads_of(module):
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in module.parameters()]


@pytest.mark.parametrize("cell,layers,reset_prob", CASES)
def test_zero_synthetic_gradient_is_truncated_bptt(cell, layers, reset_prob):
    core, loss = build(cell, layers)
    inputs, targets, resets = make_stream(STEPS, BATCH, FEATURES, OUT, reset_prob)
    engine = probe_engine(core, loss, method="dni", sg_scale=0.7)  # M starts at exactly 0...
    engine.sg_optimizer = torch.optim.SGD(engine.synthetic_gradient.parameters(), lr=0.0)  # ...and stays there
    state = engine.initial_state(BATCH)
    ref_state = state
    for window in windows_of(inputs, targets, resets, HORIZON):
        state, _ = engine.step(window, state)
        engine_grads = grads_of(engine.core) + grads_of(engine.head)
        # Reference: plain truncated BPTT by hand.
        core.zero_grad(), loss.zero_grad()
        outputs, next_ref = core(window.inputs, map_state(lambda t: t.detach(), ref_state), window.resets)
        loss(outputs, window)[0].backward()
        for got, want in zip(engine_grads, grads_of(core) + grads_of(loss)):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
        ref_state = next_ref
        for got, want in zip(state_tensors(state), state_tensors(ref_state)):
            torch.testing.assert_close(got, want, rtol=0, atol=0)


def summed_engine_grads(engine, windows):
    """Step ``engine`` through ``windows`` from its initial state; the parameter gradients summed over them."""
    state, summed = engine.initial_state(BATCH), None
    for window in windows:
        state, _ = engine.step(window, state)
        grads = grads_of(engine.core) + grads_of(engine.head)
        summed = grads if summed is None else [a + b for a, b in zip(summed, grads)]
    return summed


def full_bptt(core, loss, windows, batch):
    """Full BPTT over the whole stream: parameter grads, and the true gradient at every window start."""
    core.zero_grad(), loss.zero_grad()
    state = leaf_state(core.initial_state(batch))
    starts, total = [], 0.0
    for window in windows:
        for t in state_tensors(state):
            if not t.is_leaf:
                t.retain_grad()
        starts.append(state)
        outputs, state = core(window.inputs, state, window.resets)
        total = total + loss(outputs, window)[0]
    total.backward()
    true_grads = [flatten_state(map_state(lambda t: t.grad, s)) for s in starts]
    return grads_of(core) + grads_of(loss), true_grads, total


@pytest.mark.parametrize("cell,layers,reset_prob", CASES)
def test_oracle_boundary_gradient_is_full_bptt(cell, layers, reset_prob):
    core, loss = build(cell, layers)
    inputs, targets, resets = make_stream(STEPS, BATCH, FEATURES, OUT, reset_prob)
    windows = windows_of(inputs, targets, resets, HORIZON)
    want_grads, true_at_starts, _ = full_bptt(core, loss, windows, BATCH)

    # Inject the true future gradient instead of M(s_T) (scale 1 so it enters as it is; M works in
    # per-entry units, B times the gradient of the batch-mean loss), and record delta_0.
    engine = probe_engine(core, loss, method="dni", sg_scale=1.0)
    oracle = iter([BATCH * g for g in true_at_starts[1:]] + [torch.zeros_like(true_at_starts[0])])
    engine.boundary.predict = lambda flat, context=None, next_resets=None, target=False: (
        next(oracle) * (~next_resets).unsqueeze(-1)
    )
    deltas = record_targets(engine)

    summed = summed_engine_grads(engine, windows)
    for got, want in zip(summed, want_grads):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    for got, want in zip(deltas, true_at_starts):
        torch.testing.assert_close(got / BATCH, want, rtol=1e-9, atol=1e-12)


def test_untied_discount_target_matches_definition():
    """discount != scale: delta_0 = B dL/ds_0 + discount * J^T M(s_T), checked against autograd directly."""
    core, loss = build("lstm", 2)
    inputs, targets, resets = make_stream(HORIZON, BATCH, FEATURES, OUT)
    (window,) = windows_of(inputs, targets, resets, HORIZON)
    window = window._replace(next_resets=torch.zeros(BATCH, dtype=torch.bool))  # the stream goes on
    engine = probe_engine(core, loss, method="dni", sg_scale=0.1, bootstrap_discount=0.5)
    torch.nn.init.normal_(engine.synthetic_gradient.net[-1].weight, std=0.3)
    start_state = map_state(lambda t: torch.randn_like(t), engine.initial_state(BATCH))
    deltas = record_targets(engine)
    with torch.no_grad():
        _, final = core(window.inputs, start_state)
        g = engine.synthetic_gradient(flatten_state(final))
    engine.step(window, start_state)

    start = leaf_state(start_state)
    outputs, final = core(window.inputs, start)
    objective = BATCH * loss(outputs, window)[0] + 0.5 * (g * flatten_state(final)).sum()
    want = torch.cat([g.transpose(0, 1).flatten(1) for g in torch.autograd.grad(objective, state_tensors(start))], -1)
    torch.testing.assert_close(deltas[0], want, rtol=1e-9, atol=1e-12)
