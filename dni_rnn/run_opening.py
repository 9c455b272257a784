"""Taking a run directory: create and lock it, clear what a killed run left, decide whether to resume.

A run owns ``<logdir>/<run-name>/`` while it lives (an exclusive lock on ``.lock``, rank 0); it refuses to
start over a directory that already holds a checkpoint unless told to ``--resume`` or ``--overwrite``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dni_rnn.checkpoint import RunLock, previous_path, remove_orphans
from dni_rnn.distributed import Topology, broadcast_object
from dni_rnn.run_config import CONFIG_FILE
from dni_rnn.run_directory import SUMMARY
from dni_rnn.train_config import TrainConfig


def note(message: str, topology: Topology) -> None:
    """One line on stderr, from rank 0 only."""
    if topology.is_main:
        print(f"dni-rnn: {message}", file=sys.stderr, flush=True)


def open_run_dir(train_cfg: TrainConfig, run_dir: Path, topology: Topology) -> tuple[RunLock | None, Path | None]:
    """Make ``run_dir`` this run's: create it, lock it (rank 0), delete orphaned temporary files, and decide
    where to resume from. Returns ``(lock, checkpoint to resume from or None)``; every rank gets the same
    decision. Raises a one-line ``ValueError`` for an unusable or busy directory, or one holding a checkpoint
    that neither ``--resume`` nor ``--overwrite`` accounts for."""
    checkpoint_path = run_dir / "checkpoint.pt"
    lock, error, resume_from = None, None, None
    if topology.is_main:
        try:
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
                lock = RunLock(run_dir)
                lock.acquire()
            except OSError as os_error:
                raise ValueError(
                    f"cannot write the run directory {run_dir} ({os_error.strerror or os_error}); check --logdir"
                ) from None
            orphans = remove_orphans(run_dir)
            if orphans:
                note(
                    f"removed {len(orphans)} unfinished checkpoint file(s) left in {run_dir} by a killed run", topology
                )
            previous = previous_path(checkpoint_path)
            saved = checkpoint_path if checkpoint_path.is_file() else previous if previous.is_file() else None
            if train_cfg.resume == "auto":
                if saved is None:
                    note(f"no checkpoint in {run_dir} yet: starting run {train_cfg.run_name} afresh", topology)
                elif saved == previous:
                    note(f"{checkpoint_path} is missing: resuming from {previous}", topology)
                resume_from = saved
            elif train_cfg.resume is not None:
                resume_from = Path(train_cfg.resume)
            elif saved is not None and not train_cfg.overwrite:
                raise ValueError(
                    f"{run_dir} already holds a checkpoint of another run; continue it with --resume auto, "
                    "start it over with --overwrite, or choose another --run-name"
                )
            if resume_from is None:  # a fresh start: nothing of an earlier run in this directory may mix in
                for stale in [
                    checkpoint_path,
                    previous,
                    run_dir / "best.pt",
                    run_dir / SUMMARY,
                    run_dir / CONFIG_FILE,
                    *run_dir.glob("events.out.tfevents.*"),
                ]:
                    stale.unlink(missing_ok=True)
        except ValueError as value_error:
            error = str(value_error)
    error, resume_from = broadcast_object((error, resume_from), topology)
    if error is not None:
        if lock is not None:
            lock.release()
        raise ValueError(error)
    return lock, resume_from
