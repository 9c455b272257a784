"""Fetching the standard Penn Treebank files: download, verify, derive the character files, write atomically."""

from __future__ import annotations

import gzip
import os
import urllib.request
from pathlib import Path
from typing import Callable, Mapping

from dni_rnn.checkpoint import atomic_write_bytes
from dni_rnn_tasks.ptb.corpus import word_to_char_text
from dni_rnn_tasks.ptb.files import (
    KNOWN_SHA256,
    SPLITS,
    WORD_URLS,
    DataError,
    _check_sha,
    _decode,
    _error,
    _read_bytes,
    _user_cache_dir,
)

__all__ = ["download"]


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    """GET ``url`` and return the body. Module-level so tests can monkeypatch it."""
    req = urllib.request.Request(url, headers={"User-Agent": "dni_rnn-ptb-download"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def _write(path: Path, content: bytes) -> None:
    """Write ``content`` atomically, gzip-compressed when ``path`` ends in .gz."""
    if path.name.endswith(".gz"):
        # mtime=0 and no file name in the header: like `gzip -n`, reproducible bytes.
        content = gzip.compress(content, compresslevel=9, mtime=0)
    atomic_write_bytes(path, content)


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


def download(
    dest_dir: str | os.PathLike | None = None,
    *,
    force: bool = False,
    compress: bool = True,
    checksums: Mapping[str, str] | None = None,
    fetch: Callable[[str], bytes] | None = None,
) -> Path:
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
                raise _error(
                    word,
                    f"download from {url} failed ({type(e).__name__}: {e})",
                    "check the network, or copy the standard files and use --data-dir",
                ) from None
            _check_sha(f"{word} (from {url})", word, data, table)
            pending.append((_target(dest, word, compress), data))
        if char_ok is None:
            char_bytes = word_to_char_text(_decode(word, data)).encode("utf-8")
            _check_sha(f"{char} (derived from {word})", char, char_bytes, table, required=False)
            pending.append((_target(dest, char, compress), char_bytes))
    for path, content in pending:
        _write(path, content)
    return dest
