"""scripts/sweep: which runs a sweep starts, and that a larger budget extends finished runs."""

from __future__ import annotations

import json

from scripts import sweep

GRID = ["--tasks", "copy", "--methods", "bptt", "--horizons", "4", "--seeds", "0", "1", "--batch-size", "8"]


def finish(run_dir, samples):
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps({"samples": samples}))


def test_finished_runs_are_skipped_and_shorter_ones_extended(tmp_path, capsys):
    base = ["--name", "s", "--logdir", str(tmp_path), *GRID, "--dry-run"]
    finish(tmp_path / "s" / "copy__bptt__T4__s0", 1024)  # 1024 samples = the budget below: done
    finish(tmp_path / "s" / "copy__bptt__T4__s1", 512)  # half of it: to be extended
    assert sweep.main(base + ["--budget-samples", "1024"]) == 0
    out = capsys.readouterr().out
    assert "2 runs, 1 finished, 1 to run" in out
    assert "--run-name copy__bptt__T4__s1 " in out and "--steps 128 " in out and "--resume auto" in out
    assert not (tmp_path / "s" / "sweep.json").exists()  # a dry run writes nothing
    sweep.main(base + ["--budget-samples", "2048"])  # a larger budget: both runs continue
    assert "2 runs, 0 finished, 2 to run" in capsys.readouterr().out


def test_a_budget_that_is_not_a_whole_number_of_windows_is_not_rerun(tmp_path, capsys):
    finish(tmp_path / "s" / "copy__bptt__T4__s0", 992)  # 1000 samples at batch 8 = 125 steps: 31 windows of 4
    finish(tmp_path / "s" / "copy__bptt__T4__s1", 992)
    sweep.main(["--name", "s", "--logdir", str(tmp_path), *GRID, "--budget-samples", "1000", "--dry-run"])
    assert "2 runs, 2 finished, 0 to run" in capsys.readouterr().out


def test_placeholders_give_each_run_its_own_task_method_horizon_and_seed(tmp_path, capsys):
    variant = "off=--sg-scale 0 --branch-from p/{task}__{method}__T{T}__s{seed}__parent/checkpoint.pt"
    argv = ["--name", "s", "--logdir", str(tmp_path), *GRID, "--budget-samples", "64", "--dry-run"]
    sweep.main([*argv, "--variant", variant, "--", "--run-note", "{method}{T}"])
    lines = capsys.readouterr().out.splitlines()[1:]
    for seed, line in zip((0, 1), lines):
        assert f"--branch-from p/copy__bptt__T4__s{seed}__parent/checkpoint.pt" in line
        assert "--run-note bptt4" in line and "{" not in line
