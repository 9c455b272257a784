"""Downloading the PTB files, the network replaced by a local fetch (dni_rnn_tasks/ptb/fetch.py)."""

from __future__ import annotations

import gzip
import shutil

import pytest
from ptb_sample import (
    REAL,
    SAMPLE_WORDS,
    assert_one_line_naming,
    expected_symbols,
    needs_real,
    sample_char,
    sample_checksums,
)

import dni_rnn_tasks.ptb as P
from dni_rnn_tasks.ptb import fetch


def fake_fetch(words: dict[str, str], calls: list | None = None):
    by_url = {P.WORD_URLS[s]: words[s].encode() for s in P.SPLITS}

    def fetch(url, timeout=60.0):
        if calls is not None:
            calls.append(url)
        return by_url[url]

    return fetch


def test_download_sample(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fetch, "_fetch", fake_fetch(SAMPLE_WORDS, calls))
    table = sample_checksums()
    dest = P.download(tmp_path / "dl", checksums=table)
    assert sorted(calls) == sorted(P.WORD_URLS.values())
    assert {p.name for p in dest.iterdir()} == {f"ptb.{k}{s}.txt.gz" for s in P.SPLITS for k in ("", "char.")}
    for s in P.SPLITS:
        assert gzip.decompress((dest / f"ptb.char.{s}.txt.gz").read_bytes()).decode() == sample_char(s)
    corpus = P.load_splits(dest, checksums=table)
    assert [corpus.vocab[i] for i in corpus.test.tolist()] == expected_symbols("test")
    # Second call: everything present and valid, no fetch.
    calls.clear()
    P.download(dest, checksums=table)
    assert calls == []
    # Plain output, and a damaged file is replaced.
    plain = P.download(tmp_path / "plain", checksums=table, compress=False)
    (plain / "ptb.valid.txt").write_text("damaged")
    calls.clear()
    P.download(plain, checksums=table, compress=False)
    assert calls == [P.WORD_URLS["valid"]]
    assert (plain / "ptb.valid.txt").read_text() == SAMPLE_WORDS["valid"]
    assert not [p for p in plain.iterdir() if p.name.endswith(".tmp")]


def test_download_wrong_checksum_writes_nothing(tmp_path, monkeypatch):
    words = dict(SAMPLE_WORDS, test=SAMPLE_WORDS["test"] + " tampered \n")
    monkeypatch.setattr(fetch, "_fetch", fake_fetch(words))
    dest = tmp_path / "dl"
    with pytest.raises(ValueError) as err:
        P.download(dest, checksums=sample_checksums())
    assert_one_line_naming(err, "ptb.test.txt")
    assert "sha256 mismatch" in str(err.value)
    assert list(dest.iterdir()) == []  # verified before anything is written
    # Against the standard table, the sample is rejected as well.
    monkeypatch.setattr(fetch, "_fetch", fake_fetch(SAMPLE_WORDS))
    with pytest.raises(ValueError) as err:
        P.download(dest)
    assert_one_line_naming(err, "ptb.train.txt")
    assert list(dest.iterdir()) == []


def test_download_network_error(tmp_path, monkeypatch):
    def fail(url, timeout=60.0):
        raise OSError("no route to host")

    monkeypatch.setattr(fetch, "_fetch", fail)
    with pytest.raises(ValueError) as err:
        P.download(tmp_path)
    assert_one_line_naming(err, "ptb.train.txt")


@needs_real
def test_real_download_with_local_fetch_and_truncation(tmp_path, monkeypatch):
    words = {s: gzip.decompress((REAL / f"ptb.{s}.txt.gz").read_bytes()).decode() for s in P.SPLITS}
    monkeypatch.setattr(fetch, "_fetch", fake_fetch(words))
    dest = P.download(tmp_path / "dl")  # default (standard) checksum table
    for s in P.SPLITS:
        assert gzip.decompress((dest / f"ptb.char.{s}.txt.gz").read_bytes()) == gzip.decompress(
            (REAL / f"ptb.char.{s}.txt.gz").read_bytes()
        )
    # A truncated plain copy is reported as such, naming the file.
    bad = tmp_path / "bad"
    shutil.copytree(dest, bad)
    (bad / "ptb.char.valid.txt").write_bytes(gzip.decompress((bad / "ptb.char.valid.txt.gz").read_bytes())[:1000])
    with pytest.raises(ValueError) as err:
        P.load_splits(bad)
    assert_one_line_naming(err, "ptb.char.valid.txt")
    assert "expected 786,084" in str(err.value)
