"""``--sg-compile``: M's compiled regression step trains what the eager one trains, and checkpoints either way."""

import copy

import pytest
import torch
from helpers import RegressionLoss, make_stream, windows_of

from dni_rnn.boundary import SyntheticBoundary
from dni_rnn.cores import LSTMCore
from dni_rnn.engine import EngineConfig, WindowEngine

FEATURES, HIDDEN, OUT, BATCH, HORIZON, CONTEXT = 3, 5, 2, 6, 3, 4


def windows_with_context():
    inputs, targets, resets = make_stream(24, BATCH, FEATURES, OUT, reset_prob=0.2)
    resets[HORIZON] = torch.arange(BATCH) < 2  # some entries start the second window afresh: rows left out
    gen = torch.Generator().manual_seed(5)
    windows = windows_of(inputs, targets, resets, HORIZON)
    contexts = [torch.randn(BATCH, CONTEXT, generator=gen) for _ in range(len(windows) + 1)]
    return [w._replace(context=contexts[i], next_context=contexts[i + 1]) for i, w in enumerate(windows)]


def engine(compiled: bool, **config) -> WindowEngine:
    torch.manual_seed(0)
    # M's rate and clip chosen so that M moves a lot and the clipping acts: the two paths are compared where
    # every piece of the written-out step matters.
    settings = {"method": "dni", "sg_lr": 3e-2, "sg_grad_clip": 0.05, "sg_scale": 1.0, "sg_compile": compiled}
    return WindowEngine(
        LSTMCore(FEATURES, HIDDEN), RegressionLoss(HIDDEN, OUT), EngineConfig(**{**settings, **config}), CONTEXT
    )


def train(learner: WindowEngine, windows, state=None) -> tuple[list[float], object]:
    state, losses = learner.initial_state(BATCH) if state is None else state, []
    for window in windows:
        state, metrics = learner.step(window, state)
        if "losses/synthetic_grad" in metrics:  # n-window targets: none until n windows have run
            losses.append(float(metrics["losses/synthetic_grad"]))
    return losses, state


@pytest.mark.parametrize("target_windows", [1, 2])
def test_compiled_regression_trains_what_the_eager_one_trains(target_windows):
    windows = windows_with_context()
    eager, fast = engine(False, sg_target_windows=target_windows), engine(True, sg_target_windows=target_windows)
    (eager_losses, _), (fast_losses, _) = train(eager, windows), train(fast, windows)
    assert max(eager_losses) > 0  # M regressed on something
    torch.testing.assert_close(fast_losses, eager_losses, rtol=1e-4, atol=1e-7)
    for (name, want), got in zip(eager.state_dict().items(), fast.state_dict().values()):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=name)
    assert fast.boundary.module.net[-1].weight.abs().max() > 1e-3  # M moved away from its zero start
    for want, got in zip(eager.sg_optimizer.state.values(), fast.sg_optimizer.state.values()):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-8)


def test_a_compiled_run_continues_as_an_eager_one_from_its_checkpointed_state():
    windows = windows_with_context()
    fast = engine(True)
    _, state = train(fast, windows[:4])
    hybrid = engine(False)  # takes over the compiled run's weights, moments and step counts
    hybrid.load_state_dict(copy.deepcopy(fast.state_dict()))
    hybrid.load_optimizer_state_dict(copy.deepcopy(fast.optimizer_state_dict()))
    train(hybrid, windows[4:], state)
    reference = engine(False)
    train(reference, windows)
    for name, want in reference.state_dict().items():
        torch.testing.assert_close(hybrid.state_dict()[name], want, rtol=1e-4, atol=1e-6, msg=name)
    assert all(int(s["step"]) == len(windows) for s in hybrid.sg_optimizer.state.values())


def test_sg_compile_refuses_what_it_does_not_compute():
    with pytest.raises(ValueError, match="sg-compile"):
        EngineConfig(method="dni", sg_compile=True, sg_hidden=(8,))
    with pytest.raises(ValueError, match="sg-compile"):
        EngineConfig(method="dni", sg_compile=True, sg_solver="least_squares")
    with pytest.raises(ValueError, match="Adam"):
        SyntheticBoundary(10, compiled=True, optimizer=lambda params: torch.optim.SGD(params, lr=0.1))
