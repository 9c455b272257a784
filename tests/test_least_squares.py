"""The least-squares M: its fit is the ridge solution of the weighted targets, and the engine trains with it."""

import torch
from helpers import RegressionLoss, make_stream, windows_of
from test_gradients import BATCH, FEATURES, HIDDEN, HORIZON, OUT

from dni_rnn.boundary import SyntheticBoundary
from dni_rnn.cores import LSTMCore
from dni_rnn.engine import EngineConfig, WindowEngine
from dni_rnn.least_squares import LeastSquaresFit


def test_fit_is_the_weighted_ridge_solution():
    torch.manual_seed(0)
    fit = LeastSquaresFit(3, 2, forgetting=0.5, ridge=0.1, solve_every=2)
    linear = torch.nn.Linear(3, 2)
    batches = [(torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)) for _ in range(2)]
    fit = fit.double()
    keep = torch.ones(8, dtype=torch.bool)
    keep[0] = False
    for x, y in batches:
        fit.accumulate(x, y, keep)
    assert fit.due()
    fit.solve_into(linear.double())
    # By hand: weights 0.5 (older window) and 1 (newer), the dropped row left out, ridge on every coefficient.
    rows = [
        (w, torch.cat([x[1:], torch.ones(7, 1, dtype=torch.float64)], -1), y[1:])
        for w, (x, y) in zip((0.5, 1.0), batches)
    ]
    gram = sum(w * x.T @ x / 8 for w, x, _ in rows) + 0.1 * torch.eye(4, dtype=torch.float64)
    cross = sum(w * x.T @ y / 8 for w, x, y in rows)
    want = torch.linalg.solve(gram, cross)
    torch.testing.assert_close(linear.weight, want[:-1].T)
    torch.testing.assert_close(linear.bias, want[-1])


def test_engine_with_a_least_squares_m_learns_and_checkpoints_its_statistics():
    torch.manual_seed(0)
    engine = WindowEngine(
        LSTMCore(FEATURES, HIDDEN),
        RegressionLoss(HIDDEN, OUT),
        EngineConfig(method="dni", sg_solver="least_squares", sg_solve_every=2),
    )
    assert isinstance(engine.boundary, SyntheticBoundary) and engine.boundary.optimizer is None
    inputs, targets, resets = make_stream(4 * HORIZON, BATCH, FEATURES, OUT)
    state = engine.initial_state(BATCH)
    for window in windows_of(inputs, targets, resets, HORIZON)[:-1]:
        window = window._replace(next_resets=torch.zeros(BATCH, dtype=torch.bool))
        state, metrics = engine.step(window, state)
    assert torch.count_nonzero(engine.synthetic_gradient.net[-1].weight) > 0  # solved after 2 windows
    saved = engine.state_dict()
    assert any(key.endswith("least_squares.gram") for key in saved)
    assert any(key.endswith("least_squares._extra_state") for key in saved)
