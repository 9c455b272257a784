"""M's target types (n-step, lambda, target copy, shuffled control): the identities each one keeps."""

import pytest
import torch
from helpers import RegressionLoss, SplitLoss, included_loss, make_stream, probe_engine, record_targets, windows_of
from test_gradients import BATCH, FEATURES, HIDDEN, HORIZON, OUT, grads_of, summed_engine_grads

from dni_rnn.cores import LSTMCore
from dni_rnn.state import flatten_state

TARGET_OPTIONS = [
    {"sg_target_windows": 2},
    {"sg_target_windows": 3, "sg_lambda": 0.5},
    {"sg_target_ema": 0.05, "bootstrap_discount": 0.9},
    {"sg_shuffle": True},
]


def build(layers=2, head=RegressionLoss):
    torch.manual_seed(0)
    return LSTMCore(FEATURES, HIDDEN, layers), head(HIDDEN, OUT)


@pytest.mark.parametrize("options,head", [(options, RegressionLoss) for options in TARGET_OPTIONS] + [({}, SplitLoss)])
def test_zero_synthetic_gradient_is_truncated_bptt_for_every_target(options, head):
    """The target only trains M: with M frozen at 0 the core's gradients are truncated BPTT's (also when M's
    target leaves out a part of the loss)."""
    core, loss = build(head=head)
    inputs, targets, resets = make_stream(12, BATCH, FEATURES, OUT, reset_prob=0.15)
    engine = probe_engine(core, loss, method="dni", sg_scale=1.0, **options)
    engine.sg_optimizer = torch.optim.SGD(engine.synthetic_gradient.parameters(), lr=0.0)
    state = ref_state = engine.initial_state(BATCH)
    for window in windows_of(inputs, targets, resets, HORIZON):
        state, _ = engine.step(window, state)
        got = grads_of(engine.core) + grads_of(engine.head)
        core.zero_grad(), loss.zero_grad()
        outputs, ref_state = core(window.inputs, tuple(t.detach() for t in ref_state), window.resets)
        loss(outputs, window)[0].backward()
        for a, b in zip(got, grads_of(core) + grads_of(loss)):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def discounted_truths(core, loss, windows, discount):
    """``B d/ds_0^k sum_{i>=0} discount^i L_{k+i}`` at every window start k (and 0 after the stream)."""
    starts, state = [], core.initial_state(BATCH)
    with torch.no_grad():
        for window in windows:
            starts.append(state)
            _, state = core(window.inputs, state, window.resets)
    truths = []
    for k, start_state in enumerate(starts):
        start = tuple(t.clone().requires_grad_(True) for t in start_state)
        state, total = type(start_state)(*start), 0.0
        for i, window in enumerate(windows[k:]):
            outputs, state = core(window.inputs, state, window.resets)
            total = total + discount**i * included_loss(loss, outputs, window)
        grads = torch.autograd.grad(total, start)
        truths.append(BATCH * torch.cat([g.transpose(0, 1).flatten(1) for g in grads], -1))
    finals = [flatten_state(s) for s in starts[1:]] + [flatten_state(state)]
    return [flatten_state(s) for s in starts], truths, finals


@pytest.mark.parametrize("n,lam", [(1, 1.0), (2, 1.0), (3, 1.0), (3, 0.5), (4, 0.0)])
@pytest.mark.parametrize("reset_prob,discount", [(0.0, 1.0), (0.15, 1.0), (0.15, 0.8)])
@pytest.mark.parametrize("head", [RegressionLoss, SplitLoss])
def test_oracle_lambda_target_is_the_true_gradient(n, lam, reset_prob, discount, head):
    """With the true (discounted) future gradient in place of every bootstrap, the n-step / lambda target at a
    window start is the true gradient there (any lambda: it mixes estimates that are all exact). With a part of
    the loss excluded from M's target (SplitLoss), that is the true gradient of the rest of the loss."""
    core, loss = build(head=head)
    inputs, targets, resets = make_stream(15, BATCH, FEATURES, OUT, reset_prob)
    windows = windows_of(inputs, targets, resets, HORIZON)
    starts, truths, _ = discounted_truths(core, loss, windows, discount)
    states = starts[1:]
    after = truths[1:]
    engine = probe_engine(core, loss, method="dni", sg_scale=discount, sg_target_windows=n, sg_lambda=lam)

    def oracle(flat, context=None, next_resets=None, target=False):
        """M looked up by value: the true future gradient at the boundary state it is asked about."""
        if not states or (flat.shape[0] and min((s - flat.detach()).abs().max() for s in states) > 1e-6):
            return torch.zeros_like(flat)  # the end of the stream
        index = min(range(len(states)), key=lambda i: (states[i] - flat.detach()).abs().max())
        return after[index] * (~next_resets).unsqueeze(-1) if next_resets is not None else after[index]

    engine.boundary.predict = oracle
    got = record_targets(engine)
    state = engine.initial_state(BATCH)
    for window in windows:
        state, _ = engine.step(window, state)
    assert len(got) == len(windows) - n + 1
    for k, target in enumerate(got):
        torch.testing.assert_close(target, truths[k], rtol=1e-9, atol=1e-10)


def test_target_copy_bootstraps_with_the_slow_copy():
    """target_ema: delta_0 = B dL/ds_0 + J^T (discount * M'(s_T)), with M' the slow copy, not M."""
    core, loss = build()
    inputs, targets, resets = make_stream(HORIZON, BATCH, FEATURES, OUT)
    (window,) = windows_of(inputs, targets, resets, HORIZON)
    window = window._replace(next_resets=torch.zeros(BATCH, dtype=torch.bool))
    engine = probe_engine(core, loss, method="dni", sg_scale=0.3, bootstrap_discount=0.8, sg_target_ema=0.1)
    torch.nn.init.normal_(engine.synthetic_gradient.net[-1].weight, std=0.3)
    torch.nn.init.normal_(engine.boundary.target_module.net[-1].weight, std=0.3)
    start_state = tuple(torch.randn_like(t) for t in engine.initial_state(BATCH))
    with torch.no_grad():
        _, final = core(window.inputs, start_state)
        slow = engine.boundary.target_module(flatten_state(final))
    slow_before = engine.boundary.target_module.net[-1].weight.detach().clone()
    got = record_targets(engine)
    engine.step(window, type(engine.initial_state(1))(*start_state))

    start = tuple(t.clone().requires_grad_(True) for t in start_state)
    outputs, final = core(window.inputs, type(engine.initial_state(1))(*start))
    objective = BATCH * loss(outputs, window)[0] + 0.8 * (slow * flatten_state(final)).sum()
    want = torch.cat([g.transpose(0, 1).flatten(1) for g in torch.autograd.grad(objective, start)], -1)
    torch.testing.assert_close(got[0], want, rtol=1e-9, atol=1e-12)
    # ...and the copy moved towards M by tau after M's step: M' <- (1 - tau) M' + tau M.
    online, moved = engine.synthetic_gradient.net[-1].weight, engine.boundary.target_module.net[-1].weight
    assert not torch.equal(moved, slow_before)
    torch.testing.assert_close(moved, slow_before.lerp(online, 0.1), rtol=0, atol=1e-15)


def test_shuffled_control_injects_a_permutation_of_m():
    """sg_shuffle: the parameters see M's predictions permuted across the batch; M's target is unshuffled."""
    core, loss = build(layers=1)
    inputs, targets, resets = make_stream(HORIZON, BATCH, FEATURES, OUT)
    (window,) = windows_of(inputs, targets, resets, HORIZON)
    window = window._replace(next_resets=torch.zeros(BATCH, dtype=torch.bool))
    engine = probe_engine(core, loss, method="dni", sg_scale=1.0, sg_shuffle=True)
    torch.nn.init.normal_(engine.synthetic_gradient.net[-1].weight, std=0.3)
    permutation = torch.randperm(BATCH, generator=torch.Generator().manual_seed(0))  # the boundary's first draw
    start_state = engine.initial_state(BATCH)
    with torch.no_grad():
        _, final = core(window.inputs, start_state)
        m = engine.synthetic_gradient(flatten_state(final))
    got = record_targets(engine)
    engine.step(window, start_state)
    engine_grads = grads_of(engine.core)

    core.zero_grad(), loss.zero_grad()
    start = tuple(t.clone().requires_grad_(True) for t in start_state)
    outputs, final = core(window.inputs, type(start_state)(*start))
    (loss(outputs, window)[0] + (m[permutation] * flatten_state(final)).sum() / BATCH).backward()
    for a, b in zip(engine_grads, grads_of(core)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert not torch.equal(permutation, torch.arange(BATCH))
    # M's target carries the unshuffled bootstrap: B dL/ds_0 + J^T m.
    start = tuple(t.clone().requires_grad_(True) for t in start_state)
    outputs, final = core(window.inputs, type(start_state)(*start))
    objective = BATCH * loss(outputs, window)[0] + (m * flatten_state(final)).sum()
    want = torch.cat([g.transpose(0, 1).flatten(1) for g in torch.autograd.grad(objective, start)], -1)
    torch.testing.assert_close(got[0], want, rtol=1e-9, atol=1e-12)


def test_oracle_of_the_included_loss_gives_its_full_bptt_plus_the_excluded_part_truncated():
    """M's target leaves out a part E of the loss L: the core still learns every window's whole loss, but the
    gradient across a boundary is that of L - E. With the true future gradient of L - E injected, the summed
    parameter gradients are full BPTT of sum_j (L_j - E_j) plus truncated BPTT of sum_j E_j."""
    core, loss = build(head=SplitLoss)
    inputs, targets, resets = make_stream(12, BATCH, FEATURES, OUT, reset_prob=0.15)
    windows = windows_of(inputs, targets, resets, HORIZON)
    _, truths, _ = discounted_truths(core, loss, windows, 1.0)
    after = iter(truths[1:] + [torch.zeros_like(truths[0])])
    engine = probe_engine(core, loss, method="dni", sg_scale=1.0)
    engine.boundary.predict = lambda flat, context=None, next_resets=None, target=False: (
        next(after) * (~next_resets).unsqueeze(-1)
    )
    summed = summed_engine_grads(engine, windows)

    core.zero_grad(), loss.zero_grad()
    state, total = core.initial_state(BATCH), 0.0
    for window in windows:  # full BPTT of the included loss, truncated BPTT of the excluded one
        truncated_outputs, _ = core(window.inputs, tuple(t.detach() for t in state), window.resets)
        total = total + loss.sg_excluded_loss(truncated_outputs, window)
        outputs, state = core(window.inputs, state, window.resets)
        total = total + included_loss(loss, outputs, window)
    total.backward()
    for got, want in zip(summed, grads_of(core) + grads_of(loss)):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
