"""Exact resume: N windows, stop, resume for N more == 2N windows in one go, bit for bit; NaN guard."""

import math

import pytest
import torch
from helpers import RegressionLoss

from dni_rnn.checkpoint import load_checkpoint
from dni_rnn.cli import main
from dni_rnn.cores import GRUCore
from dni_rnn.engine import EngineConfig, NonFiniteError, Window, WindowEngine

TINY = ["--horizon", "3", "--batch-size", "4", "--hidden", "8", "--log-every", "2", "--no-progress", "--seed", "3"]


def weights(path):
    return load_checkpoint(path)["engine"]


@pytest.mark.parametrize(
    "task,extra",
    [
        ("copy", ["--method", "dni", "--threshold", "2.0", "--check-every", "2"]),
        ("repeat_copy", ["--method", "dni_aux", "--threshold", "2.0", "--check-every", "2"]),
    ],
)
def test_resume_is_bit_identical(tmp_path, capsys, task, extra):
    assert main(["train", task, "--logdir", str(tmp_path), "--run-name", "full", "--steps", "60", *TINY, *extra]) == 0
    assert main(["train", task, "--logdir", str(tmp_path), "--run-name", "half", "--steps", "30", *TINY, *extra]) == 0
    assert (
        main(
            [
                "train",
                task,
                "--logdir",
                str(tmp_path),
                "--run-name",
                "half",
                "--steps",
                "60",
                "--resume",
                "auto",
                *TINY,
                *extra,
            ]
        )
        == 0
    )
    full, half = (
        load_checkpoint(tmp_path / "full" / "checkpoint.pt"),
        load_checkpoint(tmp_path / "half" / "checkpoint.pt"),
    )
    assert full["window"] == half["window"] == 20
    for name, tensor in full["engine"].items():
        assert torch.equal(tensor, half["engine"][name]), name
    assert full["task"]["length"] == half["task"]["length"] > 1  # the curriculum moved and resumed with the run
    capsys.readouterr()


def test_nan_guard_skips_updates_then_stops():
    core, loss = GRUCore(2, 4), RegressionLoss(4, 1)
    engine = WindowEngine(core, loss, EngineConfig(method="dni", max_bad_windows=3))
    before = [p.detach().clone() for p in engine.parameters()]
    state = engine.initial_state(2)
    bad = Window(torch.full((3, 2, 2), math.nan), torch.zeros(3, 2, 1))
    for _ in range(2):
        state, metrics = engine.step(bad, state)
        assert torch.isfinite(state).all()  # the last finite state is carried
    assert metrics["charts/skipped_windows"] == 2
    assert all(torch.equal(a, b) for a, b in zip(before, engine.parameters()))  # nothing reached the weights
    good = Window(torch.randn(3, 2, 2), torch.zeros(3, 2, 1))
    engine.step(good, state)
    assert engine.bad_windows == 0
    for _ in range(2):
        engine.step(bad, state)
    with pytest.raises(NonFiniteError, match="3 consecutive windows"):
        engine.step(bad, state)


def test_training_stops_on_non_finite_loss_with_a_checkpoint(tmp_path, capsys, monkeypatch):
    """Corrupt the data stream after a few sequences: the run stops and saves the weights from before the fault."""
    from dni_rnn_tasks.copy import CopyTask

    clean = CopyTask._sequence
    calls = {"n": 0}

    def poisoned(self):
        calls["n"] += 1
        inputs, *rest = clean(self)
        return [inputs * math.nan if calls["n"] > 5 else inputs, *rest]

    monkeypatch.setattr(CopyTask, "_sequence", poisoned)
    with pytest.raises(SystemExit, match="3 consecutive windows had a non-finite loss"):
        main(
            [
                "train",
                "copy",
                "--logdir",
                str(tmp_path),
                "--run-name",
                "nan",
                "--steps",
                "60",
                *TINY,
                "--max-bad-windows",
                "3",
            ]
        )
    saved = load_checkpoint(tmp_path / "nan" / "checkpoint.pt")
    assert all(torch.isfinite(t).all() for t in saved["engine"].values())
    assert saved["optimizers"]["skipped_windows"] == 3


def test_sigterm_saves_a_checkpoint_and_resume_finishes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    args = [
        sys.executable,
        "-m",
        "dni_rnn",
        "train",
        "copy",
        "--logdir",
        str(tmp_path),
        "--run-name",
        "term",
        "--steps",
        "3000000",
        "--threads",
        "1",
        *TINY,
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = tmp_path / "term"
    deadline = time.time() + 120
    while not list(run.glob("events.out.tfevents.*")) and time.time() < deadline:
        time.sleep(0.2)  # wait until training has started
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and "checkpoint saved" in err and "--resume auto" in err
    saved = load_checkpoint(run / "checkpoint.pt")
    assert 0 < saved["window"] < 1_000_000
    # The same command line with --resume auto and a smaller total finishes at once from there.
    steps = str(3 * (saved["window"] + 2))
    assert (
        main(
            [
                "train",
                "copy",
                "--logdir",
                str(tmp_path),
                "--run-name",
                "term",
                "--steps",
                steps,
                "--resume",
                "auto",
                "--threads",
                "1",
                *TINY,
            ]
        )
        == 0
    )
    assert load_checkpoint(run / "checkpoint.pt")["window"] == saved["window"] + 2
