"""config.json: every run writes its resolved settings; `dni-rnn train --config` reproduces the run, flags override."""

import json

import pytest
import torch

from dni_rnn.checkpoint import load_checkpoint
from dni_rnn.cli import main
from dni_rnn.engine import EngineConfig
from dni_rnn.run_config import read_config
from dni_rnn.train_config import TrainConfig
from dni_rnn_tasks.copy_tasks import CopyOptions

ARGS = ["--horizon", "3", "--steps", "30", "--batch-size", "4", "--hidden", "8", "--no-progress", "--seed", "5"]
ARGS += ["--method", "dni_aux", "--sg-hidden", "6", "--threshold", "2.0", "--check-every", "2"]


def test_a_run_reproduced_from_its_config_is_bit_identical(tmp_path, capsys):
    assert main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "first", *ARGS]) == 0
    config = tmp_path / "first" / "config.json"
    saved = json.loads(config.read_text())
    assert saved["train"]["run_name"] == "first" and saved["train"]["hidden"] == 8
    assert saved["engine"]["method"] == "dni_aux" and saved["engine"]["sg_hidden"] == [6]
    assert saved["task"]["threshold"] == 2.0
    # No task named: the config says which. A new run (its own name), the same settings.
    assert main(["train", "--config", str(config), "--run-name", "again"]) == 0
    first, again = (load_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("first", "again"))
    assert {k: v for k, v in first["config"].items() if k != "train.run_name"} == {
        k: v for k, v in again["config"].items() if k != "train.run_name"
    }
    for name, tensor in first["engine"].items():
        assert torch.equal(tensor, again["engine"][name]), name
    capsys.readouterr()


def test_flags_override_the_config(tmp_path, capsys):
    assert main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "first", *ARGS]) == 0
    config = tmp_path / "first" / "config.json"
    assert main(["train", "copy", "--config", str(config), "--run-name", "wide", "--hidden", "12", "--steps", "6"]) == 0
    wide = read_config(tmp_path / "wide" / "config.json")
    assert wide["train"]["hidden"] == 12 and wide["train"]["steps"] == 6  # overridden
    assert wide["train"]["seed"] == 5 and wide["engine"]["method"] == "dni_aux"  # from the config
    assert wide["task"]["check_every"] == 2
    # Without --run-name the reproduction gets a fresh default name, never the old run's directory.
    assert main(["train", "--config", str(config), "--steps", "3"]) == 0
    names = {path.parent.name for path in tmp_path.glob("*/config.json")}
    assert len(names) == 3 and any(name.startswith("copy__dni_aux__T3__s5__") for name in names)
    capsys.readouterr()


def test_read_config_conforms_to_the_dataclasses(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"train": {"task": "copy"}, "engine": {"sg_hidden": [4, 4]}, "task": {}}))
    classes = {"train": TrainConfig, "engine": EngineConfig, "task": CopyOptions}
    assert read_config(path, classes)["engine"]["sg_hidden"] == (4, 4)  # a tuple again
    path.write_text(json.dumps({"train": {"task": "copy", "hiden": 3}}))
    with pytest.raises(ValueError, match="unknown setting train.hiden"):
        read_config(path, classes)


@pytest.mark.parametrize(
    "content,args,message",
    [
        (None, [], "cannot read config"),
        ("{not json", [], "is not valid JSON"),
        ('{"train": {"task": "copy", "hiden": 3}}', [], "unknown setting train.hiden"),
        ('{"train": {"task": "copy"}}', ["ptb"], "is a run of task 'copy', not 'ptb'"),
        ('{"train": {"task": "sudoku"}}', [], "task 'sudoku', which is not installed"),
    ],
)
def test_a_bad_config_is_one_line(tmp_path, capsys, content, args, message):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    assert main(["train", *args, "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
