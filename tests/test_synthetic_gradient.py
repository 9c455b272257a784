"""M learns: on a small stream its regression loss falls and the probe's cosine similarity rises."""

import torch
from helpers import RegressionLoss, probe_engine
from torch import nn

from dni_rnn.cores import GRUCore
from dni_rnn.engine import Window
from dni_rnn.synthetic_gradient import SyntheticGradient


def test_fresh_module_predicts_zero_and_mlp_option():
    flat = torch.randn(4, 10)
    assert torch.count_nonzero(SyntheticGradient(10)(flat)) == 0
    mlp = SyntheticGradient(10, hidden_sizes=(16,), context_size=3)
    assert torch.count_nonzero(mlp(flat, torch.randn(4, 3))) == 0
    assert isinstance(mlp.net[0], nn.Linear) and mlp.net[0].in_features == 13


def test_synthetic_gradient_learns_the_future_gradient():
    """A frozen GRU pays a loss on its outputs every step; the future gradient at a boundary is then
    (nearly) a linear function of the state, which a linear M can learn by bootstrapping alone."""
    torch.manual_seed(1)
    batch, horizon, windows = 32, 4, 400
    core, loss = GRUCore(2, 8), RegressionLoss(8, 3)
    engine = probe_engine(core, loss, method="dni", sg_lr=3e-3, sg_scale=0.5, probe_every=20, probe_windows=6)
    state = engine.initial_state(batch)
    cosines, sg_losses = [], []
    gen = torch.Generator().manual_seed(0)
    for _ in range(windows):
        inputs = 0.1 * torch.randn(horizon, batch, 2, generator=gen)
        window = Window(inputs, torch.zeros(horizon, batch, 3), next_resets=torch.zeros(batch, dtype=torch.bool))
        state, metrics = engine.step(window, state)
        state = state + 0.5 * torch.randn(state.shape, generator=gen)  # keep visiting varied states
        sg_losses.append(float(metrics["losses/synthetic_grad"]))
        if "charts/sg_cosine" in metrics:
            cosines.append(float(metrics["charts/sg_cosine"]))
    assert len(cosines) == 20
    assert sum(sg_losses[-100:]) < 0.5 * sum(sg_losses[:100])  # the regression loss falls...
    assert cosines[0] == 0.0  # (a fresh M predicts exactly 0)
    assert sum(cosines[-10:]) / 10 > 0.8  # ...and the prediction lines up with the true future gradient


def test_conditioned_synthetic_gradient_sees_the_context():
    """cDNI: M(s, c). The engine feeds the window's context at s_0 and the next window's at s_T."""
    from dni_rnn.engine import EngineConfig, WindowEngine

    batch, horizon = 3, 4
    engine = WindowEngine(GRUCore(2, 5), RegressionLoss(5, 1), EngineConfig(method="dni", sg_lr=0.1), context_size=2)
    seen = []
    forward = engine.synthetic_gradient.forward
    engine.synthetic_gradient.forward = lambda flat, context=None: (seen.append(context), forward(flat, context))[1]
    context, next_context = torch.randn(batch, 2), torch.randn(batch, 2)
    window = Window(
        torch.randn(horizon, batch, 2),
        torch.zeros(horizon, batch, 1),
        next_resets=torch.zeros(batch, dtype=torch.bool),
        context=context,
        next_context=next_context,
    )
    state = engine.initial_state(batch)
    for _ in range(3):
        state, _ = engine.step(window, state)
    assert seen[0] is next_context and seen[1] is context  # boundary prediction first, then the update
    assert torch.count_nonzero(engine.synthetic_gradient.net[-1].weight[:, -2:]) > 0  # it learned on the context
