"""Symbol ids from the PTB files: derivation rule, vocabulary, layouts, errors (dni_rnn_tasks/ptb/corpus.py)."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import pytest
import torch
from ptb_sample import (
    REAL,
    SAMPLE_WORDS,
    assert_one_line_naming,
    expected_symbols,
    needs_real,
    reference_rule,
    sample_char,
    sample_checksums,
    write_sample,
)

import dni_rnn_tasks.ptb as P


def test_derivation_rule_reproduces_char_format():
    assert P.word_to_char_text(" a b \n c \n") == "a _ b \n c \n "
    # An empty line yields just "\n " (no leading space before the newline token).
    assert P.word_to_char_text(" a \n\n b \n") == "a \n \n b \n "
    # Text after the last newline is dropped, as in the rule.
    assert P.word_to_char_text(" a \n b") == "a \n "
    for s in P.SPLITS:
        got = P.word_to_char_text(SAMPLE_WORDS[s])
        assert got == reference_rule(SAMPLE_WORDS[s])
        assert got.endswith("\n ")
        assert all(line.startswith(" ") for line in got.split("\n")[1:])


def test_symbol_stream_and_end_of_line():
    text = sample_char("train")
    syms = P.char_text_to_symbols(text)
    assert syms == expected_symbols("train")
    # One EOL per line of the word file, the empty line included; none for the trailing " ".
    assert syms.count(P.EOL) == SAMPLE_WORDS["train"].count("\n")
    # Multi-character symbols (not in PTB, but allowed by the line.split() rule) take the slow path.
    assert P.char_text_to_symbols("ab c \n d \n ") == ["ab", "c", P.EOL, "d", P.EOL]


@pytest.mark.parametrize("kind,gz", [("char", False), ("char", True), ("word", False), ("word", True)])
def test_load_sample_all_layouts(tmp_path, kind, gz):
    d = write_sample(tmp_path / "data", kind, gz)
    corpus = P.load_splits(d, checksums=sample_checksums())
    train_syms = expected_symbols("train")
    assert corpus.vocab == sorted(set(train_syms))
    assert corpus.vocab[0] == P.EOL and corpus.eol_id == 0
    assert len(corpus.vocab) == len(set(corpus.vocab))
    for s in P.SPLITS:
        ids = getattr(corpus, s)
        assert ids.dtype == torch.long and ids.dim() == 1
        assert [corpus.vocab[i] for i in ids.tolist()] == expected_symbols(s)
    assert corpus.decode(corpus.valid) == "a_cat\nthe_N\n"


def test_custom_multichar_symbols_load(tmp_path):
    # Generic (non-fast) path: multi-character and non-ASCII symbols.
    for s, text in {"train": "ab c é \n c \n ", "valid": "c ab \n ", "test": "é \n "}.items():
        (tmp_path / f"ptb.char.{s}.txt").write_text(text, encoding="utf-8")
    corpus = P.load_splits(tmp_path, verify=False)
    assert corpus.vocab == [P.EOL, "ab", "c", "é"]
    assert corpus.valid.tolist() == [2, 1, 0]


def test_unknown_symbol_in_valid_raises(tmp_path):
    d = write_sample(tmp_path, "char", gz=False)
    (d / "ptb.char.valid.txt").write_text("a c ! \n ")
    with pytest.raises(P.DataError) as err:
        P.load_splits(d, verify=False)
    assert_one_line_naming(err, "ptb.char.valid.txt")
    assert "'!'" in str(err.value)


def test_in_process_cache_returns_fresh_tensors(tmp_path):
    d = write_sample(tmp_path, "char", gz=True)
    a = P.load_splits(d, checksums=sample_checksums())
    a.train.zero_()
    b = P.load_splits(d, checksums=sample_checksums())
    assert [b.vocab[i] for i in b.train.tolist()] == expected_symbols("train")


def test_missing_file(tmp_path):
    d = write_sample(tmp_path, "char", gz=True)
    (d / "ptb.char.valid.txt.gz").unlink()
    with pytest.raises(ValueError) as err:
        P.load_splits(d, checksums=sample_checksums())
    assert_one_line_naming(err, "ptb.char.valid.txt")


def test_missing_dir(tmp_path):
    with pytest.raises(ValueError) as err:
        P.load_splits(tmp_path / "nope")
    assert_one_line_naming(err, "nope")


def test_truncated_gzip(tmp_path):
    d = write_sample(tmp_path, "char", gz=True)
    p = d / "ptb.char.train.txt.gz"
    p.write_bytes(p.read_bytes()[:-12])
    with pytest.raises(ValueError) as err:
        P.load_splits(d, verify=False)  # caught by gzip itself, before any checksum
    assert_one_line_naming(err, "ptb.char.train.txt.gz")
    assert "truncated" in str(err.value)


def test_corrupt_gzip(tmp_path):
    d = write_sample(tmp_path, "word", gz=True)
    p = d / "ptb.test.txt.gz"
    raw = bytearray(p.read_bytes())
    raw[-6] ^= 0xFF  # inside the CRC32/ISIZE trailer
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as err:
        P.load_splits(d, verify=False)
    assert_one_line_naming(err, "ptb.test.txt.gz")


@pytest.mark.parametrize("gz", [False, True])
def test_checksum_mismatch(tmp_path, gz):
    d = write_sample(tmp_path, "char", gz=gz)
    table = sample_checksums()
    table["ptb.char.test.txt"] = "0" * 64
    with pytest.raises(ValueError) as err:
        P.load_splits(d, checksums=table)
    assert_one_line_naming(err, "ptb.char.test.txt" + (".gz" if gz else ""))
    assert "sha256 mismatch" in str(err.value) and "--download" in str(err.value)
    # The sample is not the standard data: the default table rejects it too.
    with pytest.raises(ValueError) as err:
        P.load_splits(d)
    assert_one_line_naming(err, "ptb.char.train.txt")
    # ... and verify=False accepts it.
    assert P.load_splits(d, verify=False).vocab_size == len(set(expected_symbols("train")))


def test_missing_checksum_entry(tmp_path):
    d = write_sample(tmp_path, "char", gz=False)
    table = sample_checksums()
    del table["ptb.char.valid.txt"]
    with pytest.raises(ValueError) as err:
        P.load_splits(d, checksums=table)
    assert_one_line_naming(err, "ptb.char.valid.txt")


@needs_real
def test_real_checksums_and_sizes():
    for name, sha in P.KNOWN_SHA256.items():
        data = gzip.decompress((REAL / (name + ".gz")).read_bytes())
        assert hashlib.sha256(data).hexdigest() == sha, name
        assert len(data) == P.KNOWN_SIZES[name], name
    corpus = P.load_splits(REAL)
    assert corpus.vocab_size == 50 and corpus.vocab[0] == P.EOL
    assert "".join(corpus.vocab[1:]) == "#$&'*-./0123456789<>N\\_abcdefghijklmnopqrstuvwxyz"
    assert {s: getattr(corpus, s).numel() for s in P.SPLITS} == P.KNOWN_NUM_SYMBOLS
    assert {s: int((getattr(corpus, s) == corpus.eol_id).sum()) for s in P.SPLITS} == {
        "train": 42_068,
        "valid": 3_370,
        "test": 3_761,
    }


@needs_real
def test_real_derivation_byte_identical_and_word_only_load(tmp_path):
    words = {}
    for s in P.SPLITS:
        words[s] = gzip.decompress((REAL / f"ptb.{s}.txt.gz").read_bytes()).decode()
        char = gzip.decompress((REAL / f"ptb.char.{s}.txt.gz").read_bytes())
        assert P.word_to_char_text(words[s]).encode() == char, s
        shutil.copy(REAL / f"ptb.{s}.txt.gz", tmp_path / f"ptb.{s}.txt.gz")
    from_words = P.load_splits(tmp_path)  # char files absent: derived, and verified
    from_chars = P.load_splits(REAL)
    assert from_words.vocab == from_chars.vocab
    for s in P.SPLITS:
        assert torch.equal(getattr(from_words, s), getattr(from_chars, s))
