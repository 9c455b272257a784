"""The end of a run: the human-readable block beside the JSON summary."""

import json
from pathlib import Path

from dni_rnn.cli import main
from dni_rnn.run_report import figures_of_merit, format_report


def test_the_block_names_figures_run_dir_and_tensorboard_command(tmp_path, capsys):
    args = ["--horizon", "3", "--steps", "30", "--batch-size", "4", "--hidden", "8", "--no-progress"]
    assert main(["train", "repeat_copy", "--logdir", str(tmp_path / "my logs"), "--run-name", "r", *args]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])  # the JSON stays the last line of stdout
    err = captured.err.splitlines()
    assert err[0] == f"dni-rnn: finished r: 120 samples in {summary['wall_seconds']:.0f} s " + err[0].split(" s ")[1]
    assert err[1].split() == ["max_length", f"{summary['max_length']:g}"]
    assert err[2].split() == ["max_repeats", f"{summary['max_repeats']:g}"]
    run_dir = tmp_path / "my logs" / "r"
    assert err[3].split(None, 2)[2] == f"{run_dir}  (config.json, summary.json, checkpoint.pt)"
    assert err[4].split(None, 1)[1] == f"tensorboard --logdir '{tmp_path / 'my logs'}'"  # quoted: pastes as is


def test_figures_of_merit_are_the_task_s_then_the_run_s():
    summary = {"samples": 10, "wall_seconds": 2.5, "bpc_valid": 1.5, "bpc_test": float("nan"), "best_x": 1.0}
    summary["env"] = "id"
    figures = figures_of_merit(summary, ("bpc_valid", "bpc_test", "env", "missing"))
    assert list(figures) == ["bpc_valid", "bpc_test", "best_x", "samples", "wall_seconds"]
    text = format_report({"run_name": "r", "skipped_windows": 2, **summary}, figures, Path("x"), "logs")
    lines = [line.split() for line in text.splitlines()]
    assert ["skipped", "windows", "2", "(NaN", "guard)"] in lines and ["bpc_test", "nan"] in lines
