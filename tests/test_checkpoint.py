"""Checkpoint files: checksum verified on load, the previous checkpoint kept, orphaned temporary files removed, the run lock."""

import pytest
import torch

from dni_rnn.checkpoint import RunLock, load_checkpoint, previous_path, remove_orphans, save_atomic
from dni_rnn.cli import main

TINY = ["--horizon", "3", "--batch-size", "4", "--hidden", "8", "--log-every", "2", "--no-progress", "--seed", "3"]


def test_round_trip_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_atomic({"config": {}, "window": 1, "w": torch.arange(3.0)}, path, keep_previous=True)
    save_atomic({"config": {}, "window": 2, "w": torch.arange(3.0) * 2}, path, keep_previous=True)
    assert load_checkpoint(path)["window"] == 2
    assert (
        previous_path(path) == tmp_path / "checkpoint.prev.pt" and load_checkpoint(previous_path(path))["window"] == 1
    )


def test_a_write_that_fails_leaves_the_last_checkpoint_in_place(tmp_path, monkeypatch):
    """Keeping the previous checkpoint never leaves ``checkpoint.pt`` missing: a crash while the new one is written
    leaves the old one at ``checkpoint.pt`` (and at ``checkpoint.prev.pt``), whole."""
    path = tmp_path / "checkpoint.pt"
    save_atomic({"config": {}, "window": 1}, path, keep_previous=True)
    real_save = torch.save

    def crash(obj, handle, *args, **kwargs):
        if isinstance(obj, dict) and "sha256" in obj:  # the envelope, written after the payload was serialised
            raise KeyboardInterrupt
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"config": {}, "window": 2}, path, keep_previous=True)
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(path)["window"] == 1 and load_checkpoint(previous_path(path))["window"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.prev.pt", "checkpoint.pt"]


def flip_one_byte_in_the_tensor_data(path):
    data = bytearray(path.read_bytes())
    marker = bytes(torch.arange(1000.0).numpy().tobytes()[400:440])  # inside the weights, far from any header
    index = data.index(marker)
    data[index + 3] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_flipped_byte_fails_the_checksum_and_names_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_atomic({"config": {}, "window": 1, "w": torch.arange(1000.0)}, path, keep_previous=True)
    save_atomic({"config": {}, "window": 2, "w": torch.arange(1000.0)}, path, keep_previous=True)
    flip_one_byte_in_the_tensor_data(path)
    with pytest.raises(ValueError, match="fails its sha256 check") as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value) and "--resume " + str(previous_path(path)) in str(error.value)


def test_a_corrupted_run_checkpoint_stops_resume_with_one_line_and_the_previous_one_resumes(tmp_path, capsys):
    base = ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY, "--checkpoint-every", "4"]
    assert main([*base, "--steps", "30"]) == 0
    run = tmp_path / "r"
    data = bytearray((run / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped byte in the middle of the file
    (run / "checkpoint.pt").write_bytes(bytes(data))
    capsys.readouterr()
    assert main([*base, "--steps", "60", "--resume", "auto"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint.prev.pt" in err[0] and ("sha256" in err[0] or "corrupt" in err[0]), err
    previous = run / "checkpoint.prev.pt"
    assert load_checkpoint(previous)["window"] == 8  # written at window 8, replaced by the final one at window 10
    assert main([*base, "--steps", "60", "--resume", str(previous)]) == 0
    assert load_checkpoint(run / "checkpoint.pt")["window"] == 20


def test_orphaned_temporary_files_are_removed_at_the_next_start(tmp_path, capsys):
    base = ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY]
    assert main([*base, "--steps", "30"]) == 0
    run = tmp_path / "r"
    orphans = [run / ".checkpoint.pt.k2j3h4.tmp", run / ".best.pt.x9.tmp"]  # as a kill -9 during a write leaves them
    for orphan in orphans:
        orphan.write_bytes(b"\0" * 1000)
    capsys.readouterr()
    assert main([*base, "--steps", "60", "--resume", "auto"]) == 0
    assert not any(orphan.exists() for orphan in orphans)
    assert "removed 2 unfinished checkpoint file(s)" in capsys.readouterr().err
    assert remove_orphans(run) == []


def test_run_lock_is_exclusive_and_released(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(ValueError, match="in use by another live process"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released on exit
        pass
