"""Tests for tasks/ptb_data.py: a small sample written here, plus the real files when present."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from tasks import ptb_data as P

# A tiny word-level corpus in the Mikolov format (lines start with a space and end with " \n"),
# with an empty line, a tab and runs of spaces to pin down the whitespace handling.
SAMPLE_WORDS = {
    "train": " the <unk> cat sat \n mr. $ N \n\n a  b\tc \n zebra's \n",
    "valid": " a cat \n the N \n",
    "test": " sat ran \n\n mr. zebra \n",
}


def reference_rule(word_text: str) -> str:
    """The derivation rule exactly as written in PROVENANCE.md."""
    out = []
    for line in word_text.split("\n")[:-1]:
        toks = list("_".join(line.split())) + ["\n"]
        out.append("".join(t + " " for t in toks))
    return "".join(out)


def sample_char(split: str) -> str:
    return reference_rule(SAMPLE_WORDS[split])


def sample_checksums() -> dict[str, str]:
    table = {}
    for s in P.SPLITS:
        table[f"ptb.{s}.txt"] = hashlib.sha256(SAMPLE_WORDS[s].encode()).hexdigest()
        table[f"ptb.char.{s}.txt"] = hashlib.sha256(sample_char(s).encode()).hexdigest()
    return table


def write_sample(d: Path, kind: str = "char", gz: bool = True) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for s in P.SPLITS:
        name = f"ptb.char.{s}.txt" if kind == "char" else f"ptb.{s}.txt"
        text = sample_char(s) if kind == "char" else SAMPLE_WORDS[s]
        data = text.encode()
        if gz:
            (d / (name + ".gz")).write_bytes(gzip.compress(data, mtime=0))
        else:
            (d / name).write_bytes(data)
    return d


def expected_symbols(split: str) -> list[str]:
    out = []
    for line in SAMPLE_WORDS[split].split("\n")[:-1]:
        out += list("_".join(line.split())) + [P.EOL]
    return out


def assert_one_line_naming(err: pytest.ExceptionInfo, name: str) -> None:
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "\n" not in msg and msg.strip() == msg
    assert name in msg, msg


# ---------------------------------------------------------------------------------------------
# Derivation rule and symbol stream
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Errors: missing, truncated, corrupt, checksum
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Locating the data
# ---------------------------------------------------------------------------------------------


def test_find_data_dir_order(tmp_path, monkeypatch):
    a = write_sample(tmp_path / "a")
    b = write_sample(tmp_path / "b")
    empty = tmp_path / "empty"
    empty.mkdir()
    c = write_sample(tmp_path / "c")
    monkeypatch.setattr(P, "default_search_dirs", lambda: [empty, c])
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
    monkeypatch.setattr(P, "default_search_dirs", lambda: [empty])
    with pytest.raises(ValueError) as err:
        P.find_data_dir()
    assert_one_line_naming(err, "Penn Treebank")


def test_default_search_dirs():
    dirs = P.default_search_dirs()
    repo = Path(P.__file__).resolve().parents[1]
    assert dirs[0] == repo.parent / "shared" / "data" / "ptb"
    assert dirs[1] == Path.home() / ".cache" / "dni_rnn" / "ptb"


# ---------------------------------------------------------------------------------------------
# Download (network replaced by a local fetch)
# ---------------------------------------------------------------------------------------------


def fake_fetch(words: dict[str, str], calls: list | None = None):
    by_url = {P.WORD_URLS[s]: words[s].encode() for s in P.SPLITS}

    def fetch(url, timeout=60.0):
        if calls is not None:
            calls.append(url)
        return by_url[url]

    return fetch


def test_download_sample(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(P, "_fetch", fake_fetch(SAMPLE_WORDS, calls))
    table = sample_checksums()
    dest = P.download(tmp_path / "dl", checksums=table)
    assert sorted(calls) == sorted(P.WORD_URLS.values())
    assert {p.name for p in dest.iterdir()} == {
        f"ptb.{k}{s}.txt.gz" for s in P.SPLITS for k in ("", "char.")}
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
    monkeypatch.setattr(P, "_fetch", fake_fetch(words))
    dest = tmp_path / "dl"
    with pytest.raises(ValueError) as err:
        P.download(dest, checksums=sample_checksums())
    assert_one_line_naming(err, "ptb.test.txt")
    assert "sha256 mismatch" in str(err.value)
    assert list(dest.iterdir()) == []  # verified before anything is written
    # Against the standard table, the sample is rejected as well.
    monkeypatch.setattr(P, "_fetch", fake_fetch(SAMPLE_WORDS))
    with pytest.raises(ValueError) as err:
        P.download(dest)
    assert_one_line_naming(err, "ptb.train.txt")
    assert list(dest.iterdir()) == []


def test_download_network_error(tmp_path, monkeypatch):
    def fail(url, timeout=60.0):
        raise OSError("no route to host")

    monkeypatch.setattr(P, "_fetch", fail)
    with pytest.raises(ValueError) as err:
        P.download(tmp_path)
    assert_one_line_naming(err, "ptb.train.txt")


# ---------------------------------------------------------------------------------------------
# batchify, CharStream, iter_eval_windows
# ---------------------------------------------------------------------------------------------


def test_batchify():
    ids = torch.arange(23)
    x = P.batchify(ids, 4)
    assert x.shape == (5, 4) and x.dtype == torch.long and x.is_contiguous()
    for b in range(4):  # each column is a contiguous stretch of the corpus
        assert x[:, b].tolist() == list(range(5 * b, 5 * b + 5))
    assert P.batchify(ids, 1).shape == (23, 1)
    with pytest.raises(ValueError):
        P.batchify(ids, 24)
    with pytest.raises(ValueError):
        P.batchify(ids.view(1, -1), 2)


def collect(stream, n):
    out = []
    for _ in range(n):
        x, y = next(stream)
        out.append((x.clone(), y.clone(), stream.epoch, stream.wrapped, stream.start))
    return out


@pytest.mark.parametrize("horizon", [1, 3, 5])
def test_charstream_covers_stream_and_wraps(horizon):
    ids = torch.arange(43)  # B=4 -> L=10 rows, 9 targets per stream
    B, L = 4, 10
    data = P.batchify(ids, B)
    s = P.CharStream(ids, B, horizon)
    assert s.windows_per_epoch == -(-(L - 1) // horizon)
    xs, ys = [], []
    for k in range(s.windows_per_epoch):
        x, y = next(s)
        assert s.epoch == 0 and not s.wrapped
        assert x.shape[1] == B and x.shape == y.shape and x.dtype == torch.long
        assert x.shape[0] == min(horizon, L - 1 - k * horizon)
        xs.append(x)
        ys.append(y)
    assert s.end_of_epoch
    X, Y = torch.cat(xs), torch.cat(ys)
    assert torch.equal(X, data[:-1]) and torch.equal(Y, data[1:])  # contiguous, shifted by one
    for b in range(B):  # targets are the next corpus symbols within each stream
        assert torch.equal(Y[:, b], ids[b * L + 1:(b + 1) * L])
    x, y = next(s)  # wrap
    assert s.wrapped and s.epoch == 1 and s.start == 0
    assert torch.equal(x, data[:x.shape[0]])
    next(s)
    assert not s.wrapped and s.epoch == 1


def test_charstream_drop_last():
    ids = torch.arange(40)  # B=2 -> L=20, 19 targets
    s = P.CharStream(ids, 2, 5, drop_last=True)
    assert s.windows_per_epoch == 3
    shapes = [next(s)[0].shape[0] for _ in range(4)]
    assert shapes == [5, 5, 5, 5] and s.wrapped and s.epoch == 1
    with pytest.raises(ValueError):
        P.CharStream(torch.arange(10), 2, 5, drop_last=True)


def test_charstream_resume_identical():
    ids = torch.randint(0, 50, (1003,))
    a = P.CharStream(ids, 7, 6)
    collect(a, 11)
    state = a.state_dict()
    rest_a = collect(a, 40)  # crosses at least one wrap (23 windows per epoch)
    assert any(w[3] for w in rest_a)
    b = P.CharStream(ids, 7, 6)
    b.load_state_dict(state)
    rest_b = collect(b, 40)
    for wa, wb in zip(rest_a, rest_b):
        assert torch.equal(wa[0], wb[0]) and torch.equal(wa[1], wb[1])
        assert wa[2:] == wb[2:]
    # Resume exactly at the end of an epoch: the next window still reports the wrap.
    c = P.CharStream(ids, 7, 6)
    collect(c, c.windows_per_epoch)
    d = P.CharStream(ids, 7, 6)
    d.load_state_dict(c.state_dict())
    next(c), next(d)
    assert c.wrapped and d.wrapped and c.epoch == d.epoch == 1
    # The position is settable, and incompatible states are refused.
    d.position = 5
    assert next(d)[0].equal(P.batchify(ids, 7)[5:11])
    with pytest.raises(ValueError):
        P.CharStream(ids, 8, 6).load_state_dict(state)
    with pytest.raises(ValueError):
        d.position = 10_000


def test_iter_eval_windows():
    ids = torch.arange(50)
    for B, T in [(1, 7), (3, 4), (5, 100)]:
        data = P.batchify(ids, B)
        wins = list(P.iter_eval_windows(ids, B, T))
        X = torch.cat([x for x, _ in wins])
        Y = torch.cat([y for _, y in wins])
        assert torch.equal(X, data[:-1]) and torch.equal(Y, data[1:])
        assert Y.numel() == B * (50 // B - 1)
        assert all(x.shape[0] == T for x, _ in wins[:-1])


# ---------------------------------------------------------------------------------------------
# The real files (skipped when ../shared/data/ptb is absent)
# ---------------------------------------------------------------------------------------------

REAL = P.default_search_dirs()[0]
needs_real = pytest.mark.skipif(
    not all((REAL / f"ptb.{k}{s}.txt.gz").is_file() for s in P.SPLITS for k in ("", "char.")),
    reason=f"real PTB files not in {REAL}")


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
        "train": 42_068, "valid": 3_370, "test": 3_761}


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


@needs_real
def test_real_download_with_local_fetch_and_truncation(tmp_path, monkeypatch):
    words = {s: gzip.decompress((REAL / f"ptb.{s}.txt.gz").read_bytes()).decode() for s in P.SPLITS}
    monkeypatch.setattr(P, "_fetch", fake_fetch(words))
    dest = P.download(tmp_path / "dl")  # default (standard) checksum table
    for s in P.SPLITS:
        assert gzip.decompress((dest / f"ptb.char.{s}.txt.gz").read_bytes()) == gzip.decompress(
            (REAL / f"ptb.char.{s}.txt.gz").read_bytes())
    # A truncated plain copy is reported as such, naming the file.
    bad = tmp_path / "bad"
    shutil.copytree(dest, bad)
    (bad / "ptb.char.valid.txt").write_bytes(
        gzip.decompress((bad / "ptb.char.valid.txt.gz").read_bytes())[:1000])
    with pytest.raises(ValueError) as err:
        P.load_splits(bad)
    assert_one_line_naming(err, "ptb.char.valid.txt")
    assert "expected 786,084" in str(err.value)
