"""Where the PTB files are looked for (dni_rnn_tasks/ptb/files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ptb_sample import assert_one_line_naming, write_sample

import dni_rnn_tasks.ptb as P
from dni_rnn_tasks.ptb import files


def test_find_data_dir_order(tmp_path, monkeypatch):
    a = write_sample(tmp_path / "a")
    b = write_sample(tmp_path / "b")
    empty = tmp_path / "empty"
    empty.mkdir()
    c = write_sample(tmp_path / "c")
    monkeypatch.setattr(files, "default_search_dirs", lambda: [empty, c])
    monkeypatch.delenv(P.ENV_VAR, raising=False)
    assert P.find_data_dir() == c  # first fallback holding all splits
    monkeypatch.setenv(P.ENV_VAR, str(b))
    assert P.find_data_dir() == b
    assert P.find_data_dir(a) == a
    monkeypatch.setenv(P.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(ValueError) as err:
        P.find_data_dir()
    assert_one_line_naming(err, "missing")
    monkeypatch.delenv(P.ENV_VAR)
    monkeypatch.setattr(files, "default_search_dirs", lambda: [empty])
    with pytest.raises(ValueError) as err:
        P.find_data_dir()
    assert_one_line_naming(err, "Penn Treebank")


def test_default_search_dirs():
    dirs = P.default_search_dirs()
    repo = Path(files.__file__).resolve().parents[2]  # tasks/ptb/files.py
    assert dirs[0] == repo.parent / "shared" / "data" / "ptb"
    assert dirs[1] == Path.home() / ".cache" / "dni_rnn" / "ptb"
