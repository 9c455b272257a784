"""PTBTask (dni_rnn_tasks/ptb/task.py): the window stream, bits per character, training runs, and the real data."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

import dni_rnn_tasks.ptb as ptb_data
from dni_rnn.cli import main
from dni_rnn.engine import EngineConfig, WindowEngine
from dni_rnn.training import TrainConfig, train
from dni_rnn_tasks.ptb import PTBOptions, PTBTask
from dni_rnn_tasks.ptb import task as ptb_task

# The 49 characters of the standard data; with the end of line that makes the usual 50 symbols.
SYMBOLS = "#$&'*-./0123456789<>N\\_abcdefghijklmnopqrstuvwxyz"
LOG2_50 = math.log2(50)


def char_file_text(lines: list[str]) -> str:
    """The ptb.char.*.txt format: every symbol followed by a space, each line ending in "\\n "."""
    return "".join(" ".join(line) + " \n " for line in lines)


def random_lines(n_symbols: int, seed: int) -> list[str]:
    """Uniformly random symbols in lines of 5..40 (first line holds every symbol, so the vocabulary is 50)."""
    rng = random.Random(seed)
    lines, count = [SYMBOLS], len(SYMBOLS) + 1
    while count < n_symbols:
        length = rng.randint(5, 40)
        lines.append("".join(rng.choice(SYMBOLS) for _ in range(length)))
        count += length + 1
    return lines


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ptb"
    d.mkdir()
    for split, size, seed in (("train", 6000, 1), ("valid", 2000, 2), ("test", 2500, 3)):
        (d / f"ptb.char.{split}.txt").write_text(char_file_text(random_lines(size, seed)))
    return d


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models: one thread avoids thread hand-offs (and oversubscription on a busy machine). The
    # setting is process-wide (the trainer's --threads sets it too): give the next test what it had.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(corpus_dir, horizon=5, batch_size=3, hidden=8, steps=1000, method="bptt", **options):
    train_cfg = TrainConfig(
        task="ptb", horizon=horizon, batch_size=batch_size, hidden=hidden, steps=steps, progress=False
    )
    task = PTBTask(PTBOptions(data_dir=str(corpus_dir), verify=False, **options), train_cfg, torch.device("cpu"))
    core = task.build_core()
    engine = WindowEngine(core, task.build_head(core.output_size), EngineConfig(method=method))
    return task, engine


def test_windows_carry_state_and_reset_at_the_wrap(corpus_dir):
    T, B = 5, 25  # about 40 windows an epoch
    task, engine = make(corpus_dir, T, B, method="dni")
    assert task.vocab_size == 50
    data = ptb_data.batchify(task.corpus.train, B)  # (L, B)
    per_epoch = (data.shape[0] - 1) // T
    state = engine.initial_state(B)
    previous, inputs_seen, wraps = None, [], 0
    for k in range(2 * per_epoch + 3):
        window, returned = task.next_window(None, state)
        assert window.inputs.shape == window.targets.shape == (T, B)  # exactly T steps, always
        assert window.inputs.dtype == window.targets.dtype == torch.long
        assert window.loss_mask is None
        assert torch.equal(window.targets[:-1], window.inputs[1:])  # next symbol
        if k % per_epoch == 0 and k > 0:  # the wrap to a new epoch
            wraps += 1
            assert window.resets[0].all() and not window.resets[1:].any()  # the state restarts at the wrap
            assert previous.next_resets is not None and previous.next_resets.all()
            assert previous.next_resets.shape == (B,)
        else:
            assert window.resets is None
            if previous is not None:
                assert torch.equal(previous.targets[-1], window.inputs[0])  # windows tile each stream
                assert previous.next_resets is None or not previous.next_resets.any()
        if k < per_epoch:
            inputs_seen.append(window.inputs)
        assert returned is state  # the engine's carried state, untouched
        previous = window
        state, _ = engine.step(window, returned)
    assert wraps == 2
    # One epoch reads each of the B contiguous streams from its start, T steps at a time.
    assert torch.equal(torch.cat(inputs_seen), data[: per_epoch * T])


def test_stream_resumes_exactly(corpus_dir):
    a, engine = make(corpus_dir)
    for _ in range(7):
        a.next_window(None, engine.initial_state(3))
    saved = a.state_dict()
    b, _ = make(corpus_dir)
    b.load_state_dict(saved)
    for _ in range(a.stream.windows_per_epoch + 2):  # across a wrap
        wa, _ = a.next_window(None, engine.initial_state(3))
        wb, _ = b.next_window(None, engine.initial_state(3))
        assert torch.equal(wa.inputs, wb.inputs) and torch.equal(wa.targets, wb.targets)
        assert (wa.next_resets is None) == (wb.next_resets is None)


def test_untrained_bpc_is_about_log2_50_and_matches_a_single_pass(corpus_dir):
    # Uniform random symbols: an untrained model (near-uniform predictions) scores about log2(50) bits.
    task, engine = make(corpus_dir, hidden=16, eval_batch_size=4, eval_horizon=7)
    result = task.evaluate(engine.core, engine.head, final=True)
    assert set(result) == {"charts/bpc_valid", "charts/bpc_test"}
    assert all(isinstance(v, float) for v in result.values())
    for value in result.values():
        assert abs(value - LOG2_50) < 0.1
    # The windowed evaluation with carried state equals one pass over the whole split.
    with torch.no_grad():
        data = ptb_data.batchify(task.corpus.valid, 4)
        outputs, _ = engine.core(data[:-1], engine.initial_state(4))
        expected = engine.head.bits(outputs, data[1:]).mean().item()
    assert result["charts/bpc_valid"] == pytest.approx(expected, rel=1e-10)
    assert task.summary() == {"bpc_valid": result["charts/bpc_valid"], "bpc_test": result["charts/bpc_test"]}
    assert engine.training  # back in train mode


def test_periodic_final_and_eval_limit(corpus_dir):
    steps, T = 40, 5  # 8 windows make the run
    task, engine = make(corpus_dir, T, steps=steps, eval_batch_size=4, eval_limit=100)
    assert PTBTask.best_metric == "charts/bpc_valid" and task.best_metric == "charts/bpc_valid_subset"
    periodic = task.evaluate(engine.core, engine.head, final=False)
    assert set(periodic) == {"charts/bpc_valid_subset"}
    final = task.evaluate(engine.core, engine.head, final=True)
    assert set(final) == {"charts/bpc_valid", "charts/bpc_test", "charts/bpc_valid_subset"}
    assert final["charts/bpc_valid_subset"] == pytest.approx(periodic["charts/bpc_valid_subset"], rel=1e-10)
    with torch.no_grad():
        engine.head.readout.bias[0] += 1.0
    again = task.evaluate(engine.core, engine.head, final=True)
    assert again["charts/bpc_valid"] != final["charts/bpc_valid"]  # weights changed: a new result
    # Without a limit the periodic evaluation scores the whole validation split under bpc_valid.
    task, engine = make(corpus_dir, T, steps=steps, eval_batch_size=4)
    assert task.best_metric == "charts/bpc_valid"
    assert set(task.evaluate(engine.core, engine.head, final=False)) == {"charts/bpc_valid"}
    assert set(task.evaluate(engine.core, engine.head, final=True)) == {"charts/bpc_valid", "charts/bpc_test"}


@pytest.mark.parametrize("patience", [0, 1])
def test_the_trainer_evaluates_periodically_then_once_final(corpus_dir, tmp_path, monkeypatch, patience):
    """--eval-every 2 over 8 windows: periodic at 2, 4, 6 and one final evaluation at 8 (none periodic there);
    with --patience 1 a stop after an evaluation without improvement is followed by one final evaluation."""
    calls = []
    evaluate = PTBTask.evaluate

    def record(self, core, head, *, final):
        calls.append((final, core.training))
        return evaluate(self, core, head, final=final)

    monkeypatch.setattr(PTBTask, "evaluate", record)
    train_cfg = TrainConfig(
        task="ptb",
        horizon=5,
        batch_size=3,
        hidden=8,
        steps=40,
        progress=False,
        logdir=str(tmp_path),
        run_name=f"p{patience}",
        eval_every=2,
        patience=patience,
    )
    train(train_cfg, EngineConfig(method="bptt"), PTBOptions(data_dir=str(corpus_dir), verify=False, eval_batch_size=4))
    finals = [final for final, _ in calls]
    assert finals[-1] is True and finals.count(True) == 1  # the trainer owns the policy: one final evaluation
    assert not any(training for _, training in calls)  # in eval mode
    if patience == 0:
        assert finals == [False, False, False, True]


@pytest.mark.parametrize("method", ["bptt", "dni", "dni_aux"])
def test_training_run(corpus_dir, tmp_path, method):
    train_cfg = TrainConfig(
        task="ptb",
        horizon=4,
        batch_size=4,
        hidden=16,
        steps=4 * 30,
        eval_every=10,
        log_every=5,
        logdir=str(tmp_path / "logs"),
        run_name=method,
        progress=False,
    )
    options = PTBOptions(data_dir=str(corpus_dir), verify=False, eval_batch_size=8)
    summary = train(train_cfg, EngineConfig(method=method), options)
    run = tmp_path / "logs" / method
    assert list(run.glob("events.out.tfevents.*"))
    assert (run / "best.pt").is_file() and (run / "checkpoint.pt").is_file()
    assert summary["windows"] == 30
    for key in ("bpc_valid", "bpc_test", "charts/bpc_valid", "charts/bpc_test"):
        assert math.isfinite(summary[key]) and 0 < summary[key] < 7
    assert json.loads((run / "summary.json").read_text())["bpc_test"] == summary["bpc_test"]


def test_eval_scores_valid_and_test(corpus_dir, tmp_path, capsys):
    args = ["--horizon", "4", "--batch-size", "4", "--hidden", "8", "--steps", "40", "--no-progress"]
    options = ["--data-dir", str(corpus_dir), "--no-verify", "--eval-batch-size", "8"]
    assert main(["train", "ptb", "--logdir", str(tmp_path), "--run-name", "r", *args, *options]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["eval", "ptb", "--checkpoint", str(tmp_path / "r" / "checkpoint.pt")]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["charts/bpc_valid"] == summary["bpc_valid"] and result["charts/bpc_test"] == summary["bpc_test"]
    assert "charts/bpc_test: " in captured.err


def test_resumed_run_equals_uninterrupted_run(corpus_dir, tmp_path):
    options = PTBOptions(data_dir=str(corpus_dir), verify=False, eval_batch_size=8)

    def run(name, steps, resume=None):
        cfg = TrainConfig(
            task="ptb",
            horizon=4,
            batch_size=16,
            hidden=8,
            steps=steps,
            logdir=str(tmp_path),
            run_name=name,
            progress=False,
            resume=resume,
        )
        return train(cfg, EngineConfig(method="dni"), options)

    # About 6000 train symbols / 16 streams / T=4: about 93 windows an epoch, so 120 windows cross a wrap.
    whole = run("whole", 4 * 120)
    run("split", 4 * 50)
    resumed = run("split", 4 * 120, resume="auto")
    assert resumed["bpc_valid"] == pytest.approx(whole["bpc_valid"], rel=1e-12)
    assert resumed["bpc_test"] == pytest.approx(whole["bpc_test"], rel=1e-12)


def test_download_flag_fetches_into_data_dir_first(corpus_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(ptb_task, "download", lambda dest=None, **kw: calls.append(dest))
    task, _ = make(corpus_dir, download=True)
    assert calls == [str(corpus_dir)] and task.vocab_size == 50


def test_missing_data_is_one_line_error(tmp_path, capsys):
    with pytest.raises(ValueError) as err:
        make(tmp_path / "nowhere")
    assert "nowhere" in str(err.value) and "\n" not in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["train", "ptb", "--data-dir", str(empty), "--steps", "8", "--logdir", str(tmp_path), "--no-progress"])
    assert code == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "ptb.char.train.txt" in message


REAL = ptb_data.default_search_dirs()[0]
needs_real = pytest.mark.skipif(
    not all((REAL / f"ptb.char.{s}.txt.gz").is_file() for s in ptb_data.SPLITS), reason=f"real PTB files not in {REAL}"
)


@needs_real
def test_real_data_cli_run(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.set_default_dtype(torch.float32)  # the CLI's usual precision (the conftest sets float64)
    code = main(
        [
            "train",
            "ptb",
            "--data-dir",
            str(REAL),
            "--method",
            "dni",
            "--horizon",
            "8",
            "--batch-size",
            "32",
            "--hidden",
            "64",
            "--steps",
            "160",
            "--eval-every",
            "10",
            "--eval-limit",
            "2000",
            "--log-every",
            "5",
            "--threads",
            "1",
            "--lr",
            "1e-2",
            "--no-progress",
            "--logdir",
            str(tmp_path),
            "--run-name",
            "real",
        ]
    )
    assert code == 0
    run = tmp_path / "real"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["windows"] == 20 and (run / "best.pt").is_file()
    assert 0 < summary["bpc_test"] < LOG2_50 and 0 < summary["bpc_valid"] < LOG2_50
    events = EventAccumulator(str(run))
    events.Reload()
    losses = [e.value for e in events.Scalars("losses/task")]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.3


def test_paper_scale_configuration_smoke(corpus_dir):
    """The documented GPU configuration (1024 units; docs/USAGE.md) builds and trains a window on a CPU."""
    task, engine = make(corpus_dir, horizon=8, batch_size=4, hidden=1024, method="dni", embedding=128)
    assert engine.state_size == 2 * 1024
    state = engine.initial_state(4)
    for _ in range(2):
        window, state = task.next_window(None, state)
        state, metrics = engine.step(window, state)
    assert math.isfinite(float(metrics["losses/task"])) and math.isfinite(float(metrics["losses/synthetic_grad"]))
