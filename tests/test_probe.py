"""The SG-quality probe: exact against a known future gradient, blind to reset boundaries, snapshot weights."""

import torch
from helpers import RegressionLoss, make_stream, probe_engine, windows_of
from test_gradients import BATCH, FEATURES, HIDDEN, HORIZON, OUT

from dni_rnn.cores import LSTMCore
from dni_rnn.engine import Window
from dni_rnn.probe import SGProbe
from dni_rnn.state import flatten_state, leaf_state, state_tensors


def run_window(core, loss, state, window):
    outputs, final = core(window.inputs, state, window.resets)
    return loss(outputs, window)[0], final


def true_future(core, loss, start_state, probed, future, discount):
    with torch.no_grad():
        _, boundary = core(probed.inputs, start_state, probed.resets)
    boundary = leaf_state(boundary)
    state, total = boundary, 0.0
    for j, window in enumerate(future):
        window_loss, state = run_window(core, loss, state, window)
        total = total + discount**j * window_loss
    grads = torch.autograd.grad(total, state_tensors(boundary))
    return BATCH * torch.cat([g.transpose(0, 1).flatten(1) for g in grads], -1)


def setup(next_resets):
    torch.manual_seed(0)
    core, loss = LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT)
    inputs, targets, resets = make_stream(4 * HORIZON, BATCH, FEATURES, OUT)
    probed, *future = [
        w._replace(next_resets=torch.zeros(BATCH, dtype=torch.bool))
        for w in windows_of(inputs, targets, resets, HORIZON)
    ]
    probed = probed._replace(next_resets=next_resets)
    return core, loss, core.initial_state(BATCH), probed, future


def test_probe_scores_the_true_future_gradient_as_one():
    core, loss, start, probed, future = setup(torch.zeros(BATCH, dtype=torch.bool))
    true = true_future(core, loss, start, probed, future, 0.9)
    probe = SGProbe(0.9, every=1, windows=len(future), run_window=run_window)
    probe.snapshot(core, loss)
    with torch.no_grad():  # the weights move after the snapshot: the probe must not see it
        for p in core.parameters():
            p.add_(1.0)
    probe.begin(start, probed, true)
    metrics = {}
    for window in future:
        metrics = probe.observe(window)
    torch.testing.assert_close(metrics["charts/sg_cosine"], torch.tensor(1.0), rtol=0, atol=1e-6)
    torch.testing.assert_close(metrics["charts/sg_param_cosine"], torch.tensor(1.0), rtol=0, atol=1e-6)
    assert metrics["charts/sg_param_cosine_shuffled"] < 0.99
    assert metrics["charts/sg_relative_error"] < 1e-5


def test_probe_leaves_out_boundaries_that_reset():
    """Where the next step starts a new episode no gradient crosses: such entries are not scored, so a
    prediction that is right elsewhere still scores 1 whatever it says there."""
    next_resets = torch.zeros(BATCH, dtype=torch.bool)
    next_resets[0] = True
    core, loss, start, probed, future = setup(next_resets)
    true = true_future(core, loss, start, probed, future, 1.0)
    direction = true.clone()
    direction[0] = 5.0  # garbage where the boundary resets
    probe = SGProbe(1.0, every=1, windows=len(future), run_window=run_window)
    probe.snapshot(core, loss)
    probe.begin(start, probed, direction)
    metrics = {}
    for window in future:
        metrics = probe.observe(window)
    torch.testing.assert_close(metrics["charts/sg_cosine"], torch.tensor(1.0), rtol=0, atol=1e-6)


def test_engine_reports_probe_and_online_metrics():
    core, loss = LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT)
    engine = probe_engine(core, loss, method="dni", probe_every=3, probe_windows=2)
    inputs, targets, resets = make_stream(10 * HORIZON, BATCH, FEATURES, OUT)
    state, seen = engine.initial_state(BATCH), []
    for window in windows_of(inputs, targets, resets, HORIZON)[:-1]:
        window = window._replace(next_resets=torch.zeros(BATCH, dtype=torch.bool))
        state, metrics = engine.step(window, state)
        assert "charts/sg_online_cosine" in metrics
        seen.append("charts/sg_param_cosine" in metrics)
    assert seen == [False, False, True, False, False, True, False, False, True]
    assert isinstance(Window, type) and flatten_state(state).shape == (BATCH, 2 * HIDDEN)
