"""Exact resume: N windows, stop, resume for N more == 2N windows in one go, bit for bit; NaN guard."""

import json
import math
import os
import shlex
import shutil
import signal

import pytest
import torch
from helpers import RegressionLoss, assert_same_run

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
        # the compiled step loop runs the windows with resets (every sequence's start): recompiled after resuming
        ("copy", ["--method", "dni", "--threshold", "2.0", "--check-every", "2", "--reset-loop", "compiled"]),
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
    """Corrupt the data stream after a few sequences: the run stops (exit 1) and saves the weights from before the fault."""
    from dni_rnn_tasks.copy_tasks import CopyTask

    clean = CopyTask._sequence
    calls = {"n": 0}

    def poisoned(self):
        calls["n"] += 1
        inputs, *rest = clean(self)
        return [inputs * math.nan if calls["n"] > 5 else inputs, *rest]

    monkeypatch.setattr(CopyTask, "_sequence", poisoned)
    assert (
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
        == 1
    )
    err = capsys.readouterr().err
    assert "3 consecutive windows had a non-finite loss" in err and "3 windows skipped in all" in err
    saved = load_checkpoint(tmp_path / "nan" / "checkpoint.pt")
    assert all(torch.isfinite(t).all() for t in saved["engine"].values())
    assert saved["optimizers"]["skipped_windows"] == 3


def test_non_finite_weights_are_never_checkpointed(tmp_path, capsys, monkeypatch):
    """Weights that went non-finite (as with --lr inf) are never saved: the last finite checkpoint stays."""
    from dni_rnn_tasks.copy_tasks import CopyTask

    clean = CopyTask.observe

    def poison_after_window_5(self, metrics, private):
        if self.windows == 5:
            with torch.no_grad():
                next(self.core.parameters()).fill_(math.inf)
        return clean(self, metrics, private)

    def remember_core(self):
        self.core = build_core(self)
        return self.core

    def count_windows(self, actor, state):
        self.windows = getattr(self, "windows", 0) + 1
        return next_window(self, actor, state)

    build_core, next_window = CopyTask.build_core, CopyTask.next_window
    monkeypatch.setattr(CopyTask, "build_core", remember_core)
    monkeypatch.setattr(CopyTask, "next_window", count_windows)
    monkeypatch.setattr(CopyTask, "observe", poison_after_window_5)
    code = main(
        [
            "train",
            "copy",
            "--logdir",
            str(tmp_path),
            "--run-name",
            "inf",
            "--steps",
            "60",
            *TINY,
            "--checkpoint-every",
            "4",
            "--max-bad-windows",
            "3",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "checkpoint.pt holds window 4" in err and "3 windows skipped in all" in err, err
    saved = load_checkpoint(tmp_path / "inf" / "checkpoint.pt")
    assert saved["window"] == 4 and all(torch.isfinite(t).all() for t in saved["engine"].values())


def test_a_run_that_skipped_windows_says_so(tmp_path, capsys, monkeypatch):
    from dni_rnn_tasks.copy_tasks import CopyTask

    clean = CopyTask._sequence
    calls = {"n": 0}

    def one_bad_sequence(self):
        calls["n"] += 1
        inputs, *rest = clean(self)
        return [inputs * math.nan if calls["n"] == 3 else inputs, *rest]

    monkeypatch.setattr(CopyTask, "_sequence", one_bad_sequence)
    assert main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "skip", "--steps", "60", *TINY]) == 0
    captured = capsys.readouterr()
    skipped = json.loads(captured.out.strip().splitlines()[-1])["skipped_windows"]
    assert skipped >= 1 and f"the NaN guard skipped {skipped} of 20 windows" in captured.err


COPY = [*TINY, "--method", "dni", "--threshold", "2.0", "--check-every", "2"]


def test_sigterm_inside_a_window_resumes_bit_identically(tmp_path, capsys, monkeypatch):
    """The signal arrives after the task drew a window's data: the window still finishes and is checkpointed,
    and the printed command (with the resolved default run name) finishes the run as if never stopped."""
    from dni_rnn_tasks.copy_tasks import CopyTask

    base = ["train", "copy", "--logdir", str(tmp_path), "--steps", "60", *COPY]
    assert main([*base, "--run-name", "full"]) == 0
    clean, calls = CopyTask.next_window, {"n": 0}

    def signalled(self, engine, state):
        out = clean(self, engine, state)
        calls["n"] += 1
        if calls["n"] == 7:
            os.kill(os.getpid(), signal.SIGTERM)  # mid-window: this window's data are consumed
        return out

    monkeypatch.setattr(CopyTask, "next_window", signalled)
    capsys.readouterr()
    assert main(base) == 0  # default run name; an interrupted run exits 0 with its checkpoint written
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted at window 7 of 20" in err[0], err
    command = shlex.split(err[0].split("continue with: ")[1])
    name = command[command.index("--run-name") + 1]
    assert command[0] == "dni-rnn" and command[-2:] == ["--resume", "auto"] and name.startswith("copy__dni__T3__s3__")
    monkeypatch.setattr(CopyTask, "next_window", clean)
    assert main(command[1:]) == 0
    assert_same_run(
        load_checkpoint(tmp_path / "full" / "checkpoint.pt"), load_checkpoint(tmp_path / name / "checkpoint.pt")
    )


def test_a_second_signal_during_the_checkpoint_write_is_ignored(tmp_path, capsys, monkeypatch):
    import dni_rnn.run_checkpoint as training

    save = training.save_atomic

    def save_while_signalled(payload, path, keep_previous=False):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        save(payload, path, keep_previous)

    monkeypatch.setattr(training, "save_atomic", save_while_signalled)
    assert (
        main(
            [
                "train",
                "copy",
                "--logdir",
                str(tmp_path),
                "--run-name",
                "twice",
                "--steps",
                "60",
                *COPY,
                "--checkpoint-every",
                "5",
            ]
        )
        == 0
    )
    assert "interrupted at window 5 of 20" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "twice" / "checkpoint.pt")["window"] == 5


def test_sigterm_resume_is_bit_identical(tmp_path, capsys):
    """A real SIGTERM at a random moment of a subprocess: resumed, the run equals an uninterrupted one."""
    import subprocess
    import sys
    import time

    torch.set_default_dtype(torch.float32)  # as in the subprocess
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
        "--checkpoint-every",
        "50",
        *COPY,
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = tmp_path / "term"
    deadline = time.time() + 300
    # A first periodic checkpoint means the loop runs, with its signal handler in place, however slow the
    # machine (a fixed wait after start-up measured too short on 2 loaded cores).
    while not (run / "checkpoint.pt").is_file() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0 and "checkpoint saved" in err and "--run-name term --resume auto" in err, err
    window = load_checkpoint(run / "checkpoint.pt")["window"]
    assert 0 < window < 1_000_000
    steps = str(3 * (window + 2))
    common = ["train", "copy", "--logdir", str(tmp_path), "--steps", steps, "--threads", "1", *COPY]
    assert main([*common, "--run-name", "term", "--resume", "auto"]) == 0
    assert main([*common, "--run-name", "full"]) == 0
    resumed, full = load_checkpoint(run / "checkpoint.pt"), load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    assert resumed["window"] == window + 2
    assert_same_run(full, resumed)


def test_resume_accepts_settings_that_do_not_change_the_run(tmp_path, capsys):
    base = ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *COPY]
    assert main([*base, "--steps", "30", "--eval-every", "3", "--patience", "0"]) == 0
    assert (
        main(
            [
                *base,
                "--steps",
                "60",
                "--resume",
                "auto",
                "--eval-every",
                "7",
                "--patience",
                "9",
                "--log-every",
                "5",
                "--checkpoint-every",
                "3",
                "--threads",
                "1",
                "--device",
                "cpu",
                "--progress",
            ]
        )
        == 0
    )
    assert main([*base, "--steps", "90", "--resume", "auto", "--seed", "4"]) == 2  # this one changes the run
    assert "from another config: train.seed" in capsys.readouterr().err


def test_ptb_data_are_compared_by_checksum_not_by_path(tmp_path, capsys):
    from test_ptb_task import char_file_text, random_lines

    def corpus(directory, seed):
        directory.mkdir()
        for split, size, offset in (("train", 3000, 1), ("valid", 500, 2), ("test", 500, 3)):
            (directory / f"ptb.char.{split}.txt").write_text(char_file_text(random_lines(size, seed + offset)))
        return directory

    first, other = corpus(tmp_path / "a", 0), corpus(tmp_path / "other", 10)
    copied = tmp_path / "b"
    shutil.copytree(first, copied)
    linked = tmp_path / "link"
    linked.symlink_to(first)
    base = [
        "train",
        "ptb",
        "--logdir",
        str(tmp_path),
        "--run-name",
        "p",
        "--no-verify",
        "--eval-batch-size",
        "4",
        *TINY,
    ]
    assert main([*base, "--steps", "12", "--data-dir", str(first)]) == 0
    assert main([*base, "--steps", "18", "--data-dir", str(copied), "--resume", "auto"]) == 0
    assert main([*base, "--steps", "24", "--data-dir", str(linked), "--resume", "auto"]) == 0
    capsys.readouterr()
    assert main([*base, "--steps", "30", "--data-dir", str(other), "--resume", "auto"]) == 2
    assert "from another config: task.data_sha256" in capsys.readouterr().err


def test_resume_refuses_another_length_under_a_decaying_lr_schedule(tmp_path, capsys):
    """With --lr-schedule linear/cosine the rate at every window depends on --steps: a resumed run of another
    length would not be the run it continues, so --steps is compared like any setting that changes the run."""
    base = ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *COPY, "--lr-schedule", "cosine"]
    assert main([*base, "--steps", "30"]) == 0
    capsys.readouterr()
    assert main([*base, "--steps", "60", "--resume", "auto"]) == 2
    assert "from another config: train.steps" in capsys.readouterr().err


def test_resume_during_a_probe_is_bit_identical(tmp_path, capsys):
    """The SG-quality probe under way at the checkpoint (its snapshot, its windows) resumes with the run, and its
    shuffled chance level draws from a generator of its own: the global RNG and every logged probe value are
    those of an uninterrupted run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    base = ["train", "copy", "--logdir", str(tmp_path), *COPY, "--probe-every", "4", "--probe-windows", "3"]
    assert main([*base, "--run-name", "full", "--steps", "60"]) == 0
    assert main([*base, "--run-name", "half", "--steps", "30"]) == 0  # 10 windows: the probe of window 8 is open
    assert main([*base, "--run-name", "half", "--steps", "60", "--resume", "auto"]) == 0
    capsys.readouterr()
    full, half = (load_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("full", "half"))
    assert_same_run(full, half)

    def probe_values(name):
        events = EventAccumulator(str(tmp_path / name))
        events.Reload()
        return {
            tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in ("charts/sg_cosine", "charts/sg_param_cosine_shuffled")
        }

    want = probe_values("full")
    assert len(want["charts/sg_cosine"]) >= 4  # probes before, across and after the checkpoint were logged
    assert probe_values("half") == want


def test_a_run_saved_before_the_aux_pooling_default_changed_resumes(tmp_path, capsys):
    """--aux-pooling's default became mean: a dni run saved with steps still resumes (it has no aux head), a
    dni_aux run saved with steps is refused unless asked for steps, and a config without the setting (from
    before it existed) reads as steps, the pooling it ran with."""
    for method in ("dni", "dni_aux"):
        base = ["train", "copy", "--logdir", str(tmp_path), "--run-name", method, *TINY, "--method", method]
        assert main([*base, "--steps", "30", "--aux-pooling", "steps"]) == 0
        capsys.readouterr()
        code = main([*base, "--steps", "60", "--resume", "auto"])
        if method == "dni":
            assert code == 0
        else:
            assert code == 2 and "engine.aux_pooling was 'steps', now 'mean'" in capsys.readouterr().err
            assert main([*base, "--steps", "60", "--resume", "auto", "--aux-pooling", "steps"]) == 0
    config_path = tmp_path / "dni_aux" / "config.json"
    config = json.loads(config_path.read_text())
    del config["engine"]["aux_pooling"]
    config_path.write_text(json.dumps(config))
    from dni_rnn.run_config import read_config

    assert read_config(config_path)["engine"]["aux_pooling"] == "steps"
    capsys.readouterr()
