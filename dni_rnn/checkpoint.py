"""Checkpoints written atomically, and checked against the run's configuration on load."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

import torch


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``.

    A crash or a concurrent reader never sees a half-written file: ``path`` is the old file or the new one.
    The parent directory is created when missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write_bytes(path, text.encode(encoding))


def save_atomic(payload: dict, path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically: a crash leaves the old file whole."""
    atomic_write(path, lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint; a missing or unreadable file is a ``ValueError`` with one line saying so."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist; check the path or drop --resume")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise ValueError(
            f"checkpoint {path} is corrupt or not a dni_rnn checkpoint ({type(error).__name__}); "
            "delete it or resume from another"
        ) from None
    if not isinstance(payload, dict) or "config" not in payload:
        raise ValueError(f"checkpoint {path} is not a dni_rnn checkpoint")
    return payload


def check_same_config(saved: dict, current: dict, ignore: set[str], path: str | Path) -> None:
    """Refuse to resume a run whose settings differ, naming the first differing setting."""
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        if saved.get(key) != current.get(key):
            raise ValueError(
                f"checkpoint {path} is from another config: {key} was {saved.get(key)!r}, now {current.get(key)!r}; "
                "use the original settings or a new --run-name"
            )
