"""Shared pieces of the tests: a tiny regression task and a hand-written reference unroll."""

import numpy as np
import pytest
import torch
from torch import nn

from dni_rnn.engine import EngineConfig, Window, WindowEngine
from dni_rnn.head import Head
from dni_rnn.state import LSTMState


class RegressionLoss(Head):
    """Linear readout, squared error on masked steps, summed and divided by T * B (fixed per window)."""

    def __init__(self, hidden: int, out: int):
        super().__init__()
        self.readout = nn.Linear(hidden, out)

    def loss(self, outputs, window):
        error = (self.readout(outputs) - window.targets).pow(2).sum(-1)  # (T, B)
        if window.loss_mask is not None:
            error = error * window.loss_mask
        return error.sum() / error.numel(), {}


class SplitLoss(RegressionLoss):
    """RegressionLoss plus an output penalty that ``M``'s target leaves out (``sg_excluded_loss``)."""

    def penalty(self, outputs):
        return 0.7 * outputs.pow(2).sum() / outputs[..., 0].numel()

    def loss(self, outputs, window):
        return super().loss(outputs, window)[0] + self.penalty(outputs), {}

    def sg_excluded_loss(self, outputs, window):
        return self.penalty(outputs)


def included_loss(head, outputs, window):
    """The loss whose future gradient ``M`` predicts: the head's loss less its excluded part."""
    excluded = head.sg_excluded_loss(outputs, window)
    loss = head.loss(outputs, window)[0]
    return loss if excluded is None else loss - excluded


def make_stream(steps, batch, features, out, reset_prob=0.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(steps, batch, features, generator=gen)
    targets = torch.randn(steps, batch, out, generator=gen)
    resets = torch.rand(steps, batch, generator=gen) < reset_prob
    resets[0] = False
    return inputs, targets, resets


def windows_of(inputs, targets, resets, horizon):
    """Cut a stream into Windows of ``horizon`` steps with the boundary masks filled in."""
    steps = inputs.shape[0]
    out = []
    for start in range(0, steps, horizon):
        stop = start + horizon
        next_resets = resets[stop] if stop < steps else torch.ones(inputs.shape[1], dtype=torch.bool)
        out.append(Window(inputs[start:stop], targets[start:stop], None, resets[start:stop], next_resets))
    return out


def reference_unroll(rnn, inputs, state, resets):
    """Step by step, one fused call per step, reset by hand: the slow definition of the fused path."""
    is_lstm = isinstance(rnn, nn.LSTM)
    outputs = []
    for t in range(inputs.shape[0]):
        keep = (~resets[t]).to(inputs.dtype).view(1, -1, 1)
        state = tuple(s * keep for s in state) if is_lstm else state * keep
        out, state = rnn(inputs[t : t + 1], state)
        outputs.append(out)
    return torch.cat(outputs), (LSTMState(*state) if is_lstm else state)


def probe_engine(core, loss, **config):
    """An engine whose main optimiser never moves the weights, so gradients can be read after each step."""
    config.setdefault("grad_clip", None)
    engine = WindowEngine(core, loss, EngineConfig(**config))
    engine.optimizer = torch.optim.SGD(engine.model_parameters(), lr=0.0)
    return engine


def record_targets(engine):
    """Hook ``M``'s regression: returns the list the targets it is trained on are appended to."""
    targets = []
    regression_loss = engine.boundary.regression_loss
    engine.boundary.regression_loss = lambda flat, target, *args: (
        targets.append(target),
        regression_loss(flat, target, *args),
    )[1]
    return targets


def reference_package(module: str):
    """Import one of the reference packages (popgym, bsuite), or skip: they are the optional ``reference`` extra."""
    top = module.split(".")[0]
    return pytest.importorskip(
        module, reason=f"reference package {top} not installed (pip install -e '.[reference]', as .ci/run does)"
    )


def assert_same_run(a: dict, b: dict) -> None:
    """Two checkpoints hold the same run, bit for bit: weights, optimisers, task, carried state, RNGs, counters."""
    for key in ("engine", "optimizers", "task", "state", "rng", "window", "best"):
        assert_identical(a[key], b[key], key)


def assert_identical(a, b, where):
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    else:
        assert a == b, where


def reference_contexts(windows, steps):
    """The lookback written out per stream: after each window, the last ``steps`` inputs since its last reset."""
    batch, features = windows[0][0].shape[1:]
    history = [[] for _ in range(batch)]
    contexts = []
    for inputs, resets in windows:
        expected = torch.zeros(batch, steps, features)
        for b in range(batch):
            for t in range(inputs.shape[0]):
                if resets is not None and resets[t, b]:
                    history[b] = []
                history[b].append(inputs[t, b])
            latest = history[b][-steps:]
            expected[b, steps - len(latest) :] = torch.stack(latest)
        contexts.append(expected.flatten(1))
    return contexts
