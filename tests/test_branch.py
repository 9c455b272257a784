"""--branch-from: a new run started from another run's checkpoint, with settings that may differ."""

import json

from helpers import assert_same_run

from dni_rnn.checkpoint import load_checkpoint
from dni_rnn.cli import main

COPY = ["train", "copy", "--horizon", "3", "--batch-size", "4", "--hidden", "8", "--log-every", "2", "--seed", "3",
        "--no-progress", "--method", "dni", "--threshold", "2.0", "--check-every", "2"]  # fmt: skip


def run(tmp_path, name, *extra):
    return main([*COPY, "--logdir", str(tmp_path), "--run-name", name, *extra])


def test_a_branch_with_the_same_settings_is_the_run_continued_bit_for_bit(tmp_path, capsys):
    """Branching is resuming into a new directory: with unchanged settings the branch ends where the parent's
    uninterrupted run ends, and a branch that is itself interrupted resumes from its own checkpoint."""
    assert run(tmp_path, "straight", "--steps", "60") == 0
    assert run(tmp_path, "parent", "--steps", "30") == 0
    parent = str(tmp_path / "parent" / "checkpoint.pt")
    assert run(tmp_path, "branch", "--steps", "60", "--branch-from", parent) == 0
    assert run(tmp_path, "stepwise", "--steps", "45", "--branch-from", parent) == 0
    assert run(tmp_path, "stepwise", "--steps", "60", "--branch-from", parent, "--resume", "auto") == 0
    straight = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    for name in ("branch", "stepwise"):
        assert_same_run(straight, load_checkpoint(tmp_path / name / "checkpoint.pt"))
    config = json.loads((tmp_path / "branch" / "config.json").read_text())
    assert config["train"]["branch_from"] == parent  # the branch says where it started
    assert load_checkpoint(parent)["window"] == 10  # the parent is left as it was
    capsys.readouterr()


def test_a_branch_runs_with_its_own_settings_and_learning_rates(tmp_path, capsys):
    """The point of a branch: the same state continued under other settings (here no injection and other
    rates); the optimisers' moments come from the parent, their rates from the branch's own flags."""
    assert run(tmp_path, "parent", "--steps", "30") == 0
    parent = str(tmp_path / "parent" / "checkpoint.pt")
    assert run(tmp_path, "same", "--steps", "60", "--branch-from", parent) == 0
    changed = ["--sg-scale", "0", "--lr", "2e-3", "--sg-lr", "5e-4"]
    assert run(tmp_path, "off", "--steps", "60", "--branch-from", parent, *changed) == 0
    same, off = (load_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("same", "off"))
    assert [group["lr"] for group in off["optimizers"]["optimizer"]["param_groups"]] == [2e-3]
    assert [group["lr"] for group in off["optimizers"]["sg_optimizer"]["optimizer"]["param_groups"]] == [5e-4]
    assert off["window"] == same["window"] == 20
    core = "core.rnn.weight_hh_l0"
    assert core in off["engine"] and not off["engine"][core].equal(same["engine"][core])
    assert off["config"]["engine.sg_scale"] == 0.0
    capsys.readouterr()


def test_a_branch_that_cannot_continue_its_parent_is_one_line(tmp_path, capsys):
    assert run(tmp_path, "parent", "--steps", "30") == 0
    parent = str(tmp_path / "parent" / "checkpoint.pt")
    capsys.readouterr()
    cases = [
        (["--steps", "60", "--batch-size", "2"], "train.batch_size"),
        (["--steps", "60", "--horizon", "5"], "train.horizon"),
        (["--steps", "60", "--sg-hidden", "4"], "cannot branch from"),
        (["--steps", "30"], "--steps must reach beyond its 30 steps"),
    ]
    for index, (extra, message) in enumerate(cases):
        assert run(tmp_path, f"bad{index}", "--branch-from", parent, *extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert run(tmp_path, "missing", "--steps", "60", "--branch-from", str(tmp_path / "none.pt")) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert run(tmp_path, "both", "--steps", "60", "--branch-from", parent, "--resume", parent) == 2
    assert "contradict" in capsys.readouterr().err


def test_a_branch_may_condition_m_on_a_context_its_parent_had_not(tmp_path, capsys):
    """A parent with M reading the next window's inputs, branched to M reading the past inputs (the same
    width): the lookback the parent never kept starts unseen (zeros) instead of failing to load."""
    assert run(tmp_path, "parent", "--steps", "30", "--sg-context", "inputs") == 0
    parent = str(tmp_path / "parent" / "checkpoint.pt")
    assert run(tmp_path, "past", "--steps", "60", "--branch-from", parent, "--sg-context", "past_inputs") == 0
    assert load_checkpoint(tmp_path / "past" / "checkpoint.pt")["task"]["lookback"] is not None
    capsys.readouterr()


def test_a_branch_never_touches_its_parent_directory(tmp_path, capsys):
    """--branch-from a checkpoint inside the branch's own run directory (the parent's --run-name left in place)
    is refused before the directory is opened, so --overwrite cannot delete the parent."""
    assert run(tmp_path, "parent", "--steps", "30") == 0
    parent = tmp_path / "parent" / "checkpoint.pt"
    before = parent.read_bytes()
    capsys.readouterr()
    assert run(tmp_path, "parent", "--steps", "60", "--branch-from", str(parent), "--overwrite") == 2
    assert "this run's own checkpoint" in capsys.readouterr().err
    assert parent.read_bytes() == before and (tmp_path / "parent" / "summary.json").is_file()
