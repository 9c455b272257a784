"""Penn Treebank characters as symbol ids: the derivation rule, the vocabulary, :func:`load_splits`.

Symbol stream: for every line, its ``line.split()`` symbols followed by one end-of-line symbol
(:data:`EOL`). The vocabulary is the sorted set of training symbols plus :data:`EOL` (50 symbols for
the standard data), so symbol ids do not depend on file order, the machine or the Python hash seed.

Typical use::

    corpus = load_splits(args.data_dir)                      # verified, ~0.3 s
    stream = CharStream(corpus.train, batch_size=32, horizon=8, device=dev)   # dni_rnn_tasks.ptb.stream
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np
import torch

from dni_rnn_tasks.ptb.files import (
    KNOWN_SHA256,
    SPLITS,
    _check_sha,
    _content_name,
    _decode,
    _error,
    _locate,
    _read_bytes,
    find_data_dir,
)

__all__ = ["EOL", "PTBCorpus", "char_text_to_symbols", "load_splits", "word_to_char_text"]


# End-of-line symbol. "\n" can never come out of ``line.split()``, so it cannot collide with a data
# symbol, and it decodes naturally back to text. It sorts before every printable symbol, so it gets
# id 0 in the standard vocabulary.
EOL = "\n"


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
    label: str  # file name shown in messages (the file actually read)
    stream: str | None
    symbols: list[str] | None

    def symbol_set(self) -> set[str]:
        return set(self.stream) if self.stream is not None else set(self.symbols)


def _read_split(directory: Path, split: str, verify: bool, checksums: Mapping[str, str]) -> _SplitText:
    found = _locate(directory, split)
    if found is None:
        raise _error(
            f"ptb.char.{split}.txt[.gz]", f"not found in {directory} (nor ptb.{split}.txt[.gz] to derive it from)"
        )
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
            _check_sha(
                f"{path.name} (derived ptb.char.{split}.txt)",
                f"ptb.char.{split}.txt",
                text.encode("utf-8"),
                checksums,
                required=False,
            )
    stream = _stream_string(text)
    symbols = None if stream is not None else char_text_to_symbols(text)
    return _SplitText(path.name, stream, symbols)


def _encode(split: _SplitText, vocab: list[str]) -> torch.Tensor:
    index = {s: i for i, s in enumerate(vocab)}
    if split.stream is not None and split.stream.isascii() and all(len(s) == 1 and s.isascii() for s in vocab):
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
    raise _error(
        split.label,
        f"symbol {symbol!r} is not in the training vocabulary",
        "valid/test must only use training symbols; use the standard files",
    )


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


def load_splits(
    data_dir: str | os.PathLike | None = None, *, verify: bool = True, checksums: Mapping[str, str] | None = None
) -> PTBCorpus:
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
        key = (
            tuple(_file_key(p) for p, _ in located.values()),
            verify,
            tuple(sorted(table.items())) if verify else None,
        )
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
