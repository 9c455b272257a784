"""SyntheticBoundary in a user's own loop: the same identities as the engine, through the public API."""

import pytest
import torch
from helpers import RegressionLoss, make_stream, windows_of
from test_gradients import BATCH, FEATURES, HIDDEN, HORIZON, OUT, full_bptt, grads_of

from dni_rnn.boundary import SyntheticBoundary
from dni_rnn.cores import GRUCore, LSTMCore
from dni_rnn.engine import EngineConfig, WindowEngine
from dni_rnn.state import flatten_state, state_size


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_user_loop_with_oracle_boundary_is_full_bptt(cell):
    torch.manual_seed(0)
    core = (LSTMCore if cell == "lstm" else GRUCore)(FEATURES, HIDDEN, 2)
    loss_fn = RegressionLoss(HIDDEN, OUT)
    inputs, targets, resets = make_stream(12, BATCH, FEATURES, OUT, reset_prob=0.15)
    windows = windows_of(inputs, targets, resets, HORIZON)
    want, true_at_starts, _ = full_bptt(core, loss_fn, windows, BATCH)

    boundary = SyntheticBoundary(
        state_size(core.initial_state(1)), scale=1.0, optimizer=lambda params: torch.optim.SGD(params, lr=0.0)
    )
    oracle = iter([BATCH * g for g in true_at_starts[1:]] + [torch.zeros_like(true_at_starts[0])])
    boundary.predict = lambda flat, context=None, next_resets=None, target=False: (
        next(oracle) * (~next_resets).unsqueeze(-1)
    )
    summed = [torch.zeros_like(p) for p in list(core.parameters()) + list(loss_fn.parameters())]
    deltas = []
    state = core.initial_state(BATCH)
    for window in windows:
        core.zero_grad(), loss_fn.zero_grad()
        start = boundary.start(state)
        outputs, final = core(window.inputs, start, window.resets)
        boundary.backward(loss_fn(outputs, window)[0], final, next_resets=window.next_resets)
        summed = [s + g for s, g in zip(summed, grads_of(core) + grads_of(loss_fn))]
        deltas.append(boundary.pending[1])
        boundary.update()
        state = boundary.carry(final)
    for got, expected in zip(summed, want):
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    for got, expected in zip(deltas, true_at_starts):
        torch.testing.assert_close(got / BATCH, expected, rtol=1e-9, atol=1e-12)


def test_user_loop_with_fresh_boundary_is_truncated_bptt_and_m_learns():
    torch.manual_seed(0)
    core, loss_fn = LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT)
    inputs, targets, resets = make_stream(12, BATCH, FEATURES, OUT)
    boundary = SyntheticBoundary(state_size(core.initial_state(1)), scale=0.5)
    (first, *_) = windows_of(inputs, targets, resets, HORIZON)
    first = first._replace(next_resets=torch.zeros(BATCH, dtype=torch.bool))
    start = boundary.start(core.initial_state(BATCH))
    outputs, final = core(first.inputs, start)
    boundary.backward(loss_fn(outputs, first)[0], final, next_resets=first.next_resets)
    got = grads_of(core)
    core.zero_grad()
    outputs, _ = core(first.inputs, core.initial_state(BATCH))
    loss_fn(outputs, first)[0].backward()
    for a, b in zip(got, grads_of(core)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)  # M starts at exactly 0
    metrics = boundary.update()
    assert float(metrics["losses/synthetic_grad"]) > 0
    assert torch.count_nonzero(boundary.module.net[-1].bias) > 0  # M took a step (s_0 = 0: only its bias moves)


def test_backward_without_start_is_a_clear_error():
    boundary = SyntheticBoundary(4)
    with pytest.raises(RuntimeError, match="start"):
        boundary.backward(torch.zeros((), requires_grad=True), torch.zeros(1, 2, 4))


@pytest.mark.parametrize(
    "kwargs", [{"scale": -1.0}, {"discount": float("nan")}, {"target_ema": 1.5}, {"state_size": 0}]
)
def test_out_of_range_options_raise(kwargs):
    with pytest.raises(ValueError):
        SyntheticBoundary(**{"state_size": 4, **kwargs})


def test_m_and_aux_head_follow_a_float64_core():
    core = LSTMCore(FEATURES, HIDDEN).double()
    engine = WindowEngine(core, RegressionLoss(HIDDEN, OUT).double(), EngineConfig(method="dni_aux"))
    inputs, targets, resets = make_stream(HORIZON, BATCH, FEATURES, OUT)
    (window,) = windows_of(inputs.double(), targets.double(), resets, HORIZON)
    state, metrics = engine.step(window, engine.initial_state(BATCH, dtype=torch.float64))
    assert engine.synthetic_gradient.net[-1].weight.dtype == torch.float64
    assert flatten_state(state).dtype == torch.float64 and torch.isfinite(metrics["losses/aux"])


def test_non_finite_state_of_an_ended_episode_does_not_poison_m():
    """An entry reset at step 0 is left out of M's loss by selection: NaN in its carried state (whatever
    ended that episode) must not reach M's weights (NaN x 0 would)."""
    torch.manual_seed(0)
    core, loss = LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT)
    engine = WindowEngine(core, loss, EngineConfig(method="dni"))
    inputs, targets, resets = make_stream(HORIZON, BATCH, FEATURES, OUT)
    resets[0, 0] = True
    (window,) = windows_of(inputs, targets, resets, HORIZON)
    state = engine.initial_state(BATCH)
    state.hidden[:, 0] = float("nan")
    _, metrics = engine.step(window, state)
    assert torch.isfinite(metrics["losses/task"]) and torch.isfinite(metrics["losses/synthetic_grad"])
    assert all(torch.isfinite(p).all() for p in engine.synthetic_gradient.parameters())
    assert all(torch.isfinite(p).all() for p in engine.core.parameters())


def test_a_window_that_does_not_fit_the_state_is_named():
    engine = WindowEngine(LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT), EngineConfig(method="dni"))
    inputs, targets, resets = make_stream(HORIZON, BATCH, FEATURES, OUT)
    (window,) = windows_of(inputs, targets, resets, HORIZON)
    state = engine.initial_state(BATCH)
    with pytest.raises(ValueError, match=rf"expected inputs \[T, B, \.\.\.\] with B={BATCH}"):
        engine.step(window._replace(inputs=inputs.transpose(0, 1)), state)
    with pytest.raises(ValueError, match="expected next_resets of shape"):
        engine.step(window._replace(next_resets=torch.zeros(BATCH + 1, dtype=torch.bool)), state)
    with pytest.raises(ValueError, match="expected resets of shape"):
        engine.step(window._replace(resets=resets[:, :1]), state)
