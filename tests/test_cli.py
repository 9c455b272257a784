"""The dni-rnn command: tiny runs of every task and method, evaluation, and one-line errors."""

import json
import subprocess
import sys

import pytest
import torch

from dni_rnn.cli import main

TINY = ["--horizon", "3", "--steps", "30", "--batch-size", "4", "--hidden", "8", "--log-every", "2", "--no-progress"]


@pytest.mark.parametrize("task", ["copy", "repeat_copy"])
@pytest.mark.parametrize("method", ["bptt", "dni", "dni_aux"])
def test_train_writes_tensorboard_events(tmp_path, capsys, task, method):
    code = main(
        [
            "train",
            task,
            "--method",
            method,
            "--logdir",
            str(tmp_path),
            "--run-name",
            "run",
            "--probe-every",
            "2",
            "--probe-windows",
            "2",
            *TINY,
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["method"] == method and summary["windows"] == 10 and summary["max_length"] >= 1
    run = tmp_path / "run"
    assert list(run.glob("events.out.tfevents.*")) and (run / "checkpoint.pt").is_file()
    assert json.loads((run / "summary.json").read_text())["samples"] == 10 * 3 * 4

    assert main(["eval", task, "--checkpoint", str(run / "checkpoint.pt")]) == 0
    assert json.loads(capsys.readouterr().out)["window"] == 10


@pytest.mark.parametrize("task", ["copy", "repeat_copy"])
def test_eval_reports_accuracy_at_each_length_up_to_and_beyond_n(tmp_path, capsys, task):
    args = ["train", task, "--logdir", str(tmp_path), "--run-name", "r", *TINY, "--steps", "90"]
    assert main([*args, "--threshold", "2.0", "--check-every", "2"]) == 0
    reached = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["max_length"]
    assert reached > 1
    checkpoint = str(tmp_path / "r" / "checkpoint.pt")
    assert main(["eval", task, "--checkpoint", checkpoint, "--sequences", "16", "--beyond", "2", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["max_length"] == reached and result["sequences"] == 16
    assert [row["length"] for row in result["lengths"]] == list(range(1, int(reached) + 3))
    for row in result["lengths"]:
        assert 0 <= row["sequence_accuracy"] <= row["bit_accuracy"] <= 1
    table = captured.err.splitlines()
    assert table[1].startswith(f"  reached N = {int(reached)}") and table[2].split()[:3] == ["N", "bit", "acc"]
    assert len(table) == 3 + len(result["lengths"]) and table[-1].endswith("beyond")
    # The same seed scores the same sequences: the report is reproducible.
    assert main(["eval", task, "--checkpoint", checkpoint, "--sequences", "16", "--beyond", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["lengths"] == result["lengths"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dni_rnn", *args], capture_output=True, text=True)


def run_main(args, capsys):
    """main() in-process (fast); argparse's errors arrive as SystemExit."""
    try:
        code = main(args)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.err, captured.out


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "sudoku"], "invalid choice: 'sudoku'"),
        (["train", "copy", "--method", "magic"], "argument --method: invalid choice: 'magic'"),
        (["train", "copy", "--horizon", "0"], "--horizon must be >= 1"),
        (["train", "copy", "--batch-size", "-3"], "--batch-size must be >= 1"),
        (["train", "copy", "--cell", "transformer"], "argument --cell: invalid choice: 'transformer'"),
        (["train", "copy", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["train", "copy", "--lr-schedule", "step"], "argument --lr-schedule: invalid choice: 'step'"),
        (["train", "copy", "--run-name", "../x"], "--run-name '../x' must be a single folder name"),
        (["train", "copy", "--run-name", "a/b"], "must be a single folder name"),
        (["train", "copy", "--seed", "-1"], "--seed must be in [0, 4294967295]"),
        (["train", "copy", "--threads", "-2"], "--threads must be >= 0"),
        (["train", "copy", "--lr-final", "nan"], "--lr-final must be finite"),
        (["train", "copy", "--lr-final", "inf"], "--lr-final must be finite"),
        (["train", "copy", "--eval-every", "-1"], "--eval-every must be >= 0"),
        (["train", "copy", "--resume", "auto", "--overwrite"], "contradict"),
        (["train", "copy", "--grad-clip", "-1"], "--grad-clip must be"),  # EngineConfig's ValueError, one line too
        (["train", "copy", "--sg-hidden", "-3"], "--sg-hidden must be >= 1"),
        (["train", "copy", "--steps", "2", "--horizon", "4"], "--steps (2) must be at least one window"),
        (["train", "copy", "--lr", "0"], "lr must be > 0"),
        (["train", "copy", "--cell", "rtu", "--method", "dni"], "train it with --method bptt"),
        (["train", "copy", "--cell", "rtu", "--method", "bptt", "--layers", "2"], "one layer"),
        (["train", "copy", "--hidden", "many"], "invalid int value: 'many'"),
        (["train", "copy", "--chrono-steps", "-1"], "--chrono-steps must be >= 0"),
        (["train", "copy", "--chrono-steps", "2"], "--chrono-steps must be 0 (off) or >= 3"),
        (
            ["train", "copy", "--cell", "rtu", "--method", "bptt", "--chrono-steps", "16"],
            "initialises lstm and gru gates",
        ),
        (["train", "copy", "--resume", "/nonexistent/checkpoint.pt"], "does not exist"),
        (["eval", "copy", "--checkpoint", "/nonexistent/checkpoint.pt"], "does not exist"),
        (["eval", "copy", "--checkpoint", "/nonexistent/checkpoint.pt", "--threads", "-1"], "--threads must be >= 0"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(args, message, tmp_path, capsys):
    code, err, _ = run_main(
        args + (["--logdir", str(tmp_path)] if args[0] == "train" and len(args) > 2 else []), capsys
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_logdir_on_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, err, _ = run_main(["train", "copy", "--logdir", str(blocker), *TINY], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot write the run directory" in err and "check --logdir" in err


def test_steps_not_a_multiple_of_horizon_is_stated(tmp_path, capsys):
    code, err, out = run_main(
        ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY, "--steps", "10", "--horizon", "4"],
        capsys,
    )
    assert code == 0 and "--steps 10 is not a multiple of --horizon 4: the run trains 2 windows = 8 steps" in err
    assert json.loads(out.strip().splitlines()[-1])["windows"] == 2


def test_help_shows_choices_and_ranges(capsys):
    code, _, text = run_main(["train", "copy", "--help"], capsys)
    assert code == 0
    for shown in (
        "--cell {lstm,gru,rtu}",
        "--device {auto,cpu,cuda}",
        "--lr-schedule {constant,linear,cosine}",
        "--method {bptt,dni,dni_aux}",
        "--overwrite",
    ):
        assert shown in text, shown
    assert "(default: 4; >= 1)" in text  # --horizon's range


def test_an_occupied_run_dir_is_refused_unless_resume_or_overwrite(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY]) == 0
    capsys.readouterr()
    before = (run / "checkpoint.pt").read_bytes()
    code, err, _ = run_main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "already holds a checkpoint" in err and "--resume auto" in err and "--overwrite" in err
    assert (run / "checkpoint.pt").read_bytes() == before and len(list(run.glob("events.out.tfevents.*"))) == 1
    # --overwrite starts over: a new checkpoint and a single event file (the old run's are deleted).
    code, err, _ = run_main(
        ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY, "--steps", "6", "--overwrite"], capsys
    )
    assert code == 0
    assert torch.load(run / "checkpoint.pt", weights_only=False) is not None
    from dni_rnn.checkpoint import load_checkpoint

    assert load_checkpoint(run / "checkpoint.pt")["window"] == 2
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_a_run_name_held_by_a_live_process_is_refused(tmp_path, capsys):
    from dni_rnn.checkpoint import RunLock

    (tmp_path / "busy").mkdir()
    with RunLock(tmp_path / "busy"):  # as a live run holds it (a flock: released by the OS when a process dies)
        code, err, _ = run_main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "busy", *TINY], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "in use by another live process" in err
    assert not (tmp_path / "busy" / "checkpoint.pt").exists()
    code, _, _ = run_main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "busy", *TINY], capsys)
    assert code == 0  # free again


def test_resume_auto_starts_afresh_when_there_is_no_checkpoint(tmp_path, capsys):
    args = ["train", "copy", "--logdir", str(tmp_path), "--run-name", "req", *TINY, "--resume", "auto"]
    code, err, _ = run_main(args, capsys)
    assert code == 0 and "no checkpoint in" in err and "starting run req afresh" in err
    code, err, _ = run_main([*args[:-2], "--steps", "60", "--resume", "auto"], capsys)  # the same line requeued
    assert code == 0 and "starting run req afresh" not in err
    from dni_rnn.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "req" / "checkpoint.pt")["window"] == 20


def test_help_lists_everything(capsys):
    assert "train" in run_cli("--help").stdout  # the module entry point, as torchrun -m dni_rnn runs it
    code, _, text = run_main(["train", "--help"], capsys)
    assert code == 0 and "repeat_copy" in text
    code, _, text = run_main(["train", "copy", "--help"], capsys)
    assert code == 0
    for flag in (
        "--method",
        "--horizon",
        "--steps",
        "--seed",
        "--device",
        "--logdir",
        "--run-name",
        "--cell",
        "--hidden",
        "--layers",
        "--batch-size",
        "--lr",
        "--sg-lr",
        "--sg-scale",
        "--threshold",
    ):
        assert flag in text


def test_resume_refuses_another_config_and_corrupt_checkpoint(tmp_path, capsys):
    assert main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY]) == 0
    checkpoint = tmp_path / "r" / "checkpoint.pt"
    before = checkpoint.read_bytes()
    assert (
        main(
            ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", "--resume", "auto", *TINY, "--hidden", "16"]
        )
        == 2
    )
    assert "from another config: train.hidden" in capsys.readouterr().err
    assert checkpoint.read_bytes() == before  # nothing already written is damaged
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(before[: len(before) // 2])
    assert main(["train", "copy", "--logdir", str(tmp_path), "--resume", str(corrupt), *TINY]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_logger_averages_each_tag_over_the_windows_that_reported_it(tmp_path):
    import torch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dni_rnn.tensorboard_log import RunLogger

    logger = RunLogger(str(tmp_path), {"a": 1})
    for window in range(10):
        metrics = {"losses/task": torch.tensor(float(window))}
        if window == 4:
            metrics["charts/sg_cosine"] = torch.tensor(0.8)  # a sparse metric, like the probe's
        logger.accumulate(metrics)
    values = logger.flush_window_metrics(samples=100)
    logger.close()
    assert values["losses/task"] == 4.5 and values["charts/sg_cosine"] == pytest.approx(0.8)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert events.Scalars("charts/sg_cosine")[0].value == pytest.approx(0.8)
