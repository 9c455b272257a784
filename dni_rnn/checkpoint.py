"""Checkpoints and the run directory that holds them.

A checkpoint is written atomically (temporary file, fsync, rename) and carries the sha256 of its
payload, checked on load. Saving over ``checkpoint.pt`` keeps the previous one as ``checkpoint.prev.pt`` (a
hard link made before the new file replaces it, so ``checkpoint.pt`` is never missing), so one earlier good
checkpoint is always at hand. A live run holds an exclusive
lock on ``<run>/.lock``, so a second process with the same run name refuses to start.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

import torch

FORMAT = "dni_rnn-checkpoint"
VERSION = 2  # 2: {"format", "version", "sha256", "payload": uint8 tensor of torch.save(payload)}; 1: the payload itself


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``.

    A crash or a concurrent reader never sees a half-written file: ``path`` is the old file or the new one.
    The parent directory is created when missing. A process killed during the write leaves a
    ``.<name>.*.tmp`` file, which :func:`remove_orphans` deletes.
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


def previous_path(path: str | Path) -> Path:
    """Where the checkpoint saved before ``path`` is kept: ``checkpoint.pt`` -> ``checkpoint.prev.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_atomic(payload: dict, path: str | Path, keep_previous: bool = False) -> None:
    """``torch.save`` ``payload`` with its sha256 to ``path`` atomically: a crash leaves the old file whole.

    With ``keep_previous`` the file being replaced is moved to :func:`previous_path` first.
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    # The payload's bytes as a uint8 tensor: stored raw (pickled bytes would be latin-1 text, up to twice the size).
    envelope = {
        "format": FORMAT,
        "version": VERSION,
        "sha256": hashlib.sha256(data).hexdigest(),
        "payload": torch.frombuffer(bytearray(data), dtype=torch.uint8),
    }
    path = Path(path)
    if keep_previous and path.is_file():
        # The previous file becomes checkpoint.prev.pt through a hard link, so ``path`` never goes missing: until
        # the rename of the new file it is still the old checkpoint (a kill in between leaves an orphan .tmp).
        previous = previous_path(path)
        link = previous.with_name(f".{previous.name}.{os.getpid()}.tmp")
        link.unlink(missing_ok=True)
        try:
            os.link(path, link)
        except OSError:  # a file system without hard links: a copy, as durable
            atomic_write_bytes(link, path.read_bytes())
        os.replace(link, previous)
    atomic_write(path, lambda handle: torch.save(envelope, handle))


def _hint(path: Path) -> str:
    previous = previous_path(path)
    if previous.is_file() and previous != path:
        return f"the previous checkpoint is {previous}: resume from it with --resume {previous}"
    return "delete it or resume from another"


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint and verify its checksum; a missing, damaged or altered file is a one-line ``ValueError``
    that names the previous checkpoint when there is one."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist; check the path or drop --resume")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise ValueError(
            f"checkpoint {path} is corrupt or not a dni_rnn checkpoint ({type(error).__name__}); {_hint(path)}"
        ) from None
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        data = payload.get("payload")
        data = data.numpy().tobytes() if torch.is_tensor(data) else b""
        if hashlib.sha256(data).hexdigest() != payload.get("sha256"):
            raise ValueError(
                f"checkpoint {path} fails its sha256 check (the file was altered or damaged); {_hint(path)}"
            )
        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
        except Exception as error:
            raise ValueError(f"checkpoint {path} is corrupt ({type(error).__name__}); {_hint(path)}") from None
    if not isinstance(payload, dict) or "config" not in payload:
        raise ValueError(f"checkpoint {path} is not a dni_rnn checkpoint")
    return payload


def all_finite(state_dict: dict) -> bool:
    """Whether every floating-point tensor of ``state_dict`` is finite (one host sync)."""
    checks = [torch.isfinite(t).all() for t in state_dict.values() if torch.is_tensor(t) and t.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True


def check_same_config(saved: dict, current: dict, ignore: set[str], path: str | Path) -> None:
    """Refuse to resume a run whose settings differ, naming the first differing setting.

    A setting missing from ``saved`` (a checkpoint from before it existed) is not compared.
    """
    for key in sorted(set(saved) | set(current)):
        if key in ignore or key not in saved:
            continue
        if saved.get(key) != current.get(key):
            raise ValueError(
                f"checkpoint {path} is from another config: {key} was {saved.get(key)!r}, now {current.get(key)!r}; "
                "use the original settings or a new --run-name"
            )


def remove_orphans(run_dir: str | Path) -> list[Path]:
    """Delete the ``.*.tmp`` files a process killed during :func:`atomic_write` left in ``run_dir``.

    Call it only while holding the run's :class:`RunLock` (no live writer). Returns the deleted paths.
    """
    orphans = sorted(Path(run_dir).glob(".*.tmp"))
    for orphan in orphans:
        orphan.unlink(missing_ok=True)
    return orphans


class RunLock:
    """An exclusive ``flock`` on ``<run_dir>/.lock`` for the life of a run.

    The operating system drops the lock when the process ends, however it ends (kill -9 too), so a
    stale lock file never blocks a later run.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise a one-line ``ValueError`` naming the process that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ValueError(
                    f"run {self.path.parent} is in use by another live process (pid {holder}); "
                    "wait for it to end or choose another --run-name"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
