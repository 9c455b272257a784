"""Stopping a run cleanly: SIGTERM / SIGINT end it at a window boundary, with the command that continues it."""

from __future__ import annotations

import os
import shlex
import signal
import threading
from typing import Sequence

from dni_rnn.distributed import Topology


class RunInterrupted(Exception):
    """A signal stopped the run at a window boundary; its checkpoint is written. The message (one line)
    says how to continue."""


class StopSignal:
    """Catches SIGTERM and SIGINT while a run lives: the first one asks the loop to stop at the next window
    boundary; later ones are ignored (a checkpoint being written is never cut short)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():  # Python delivers signals to the main thread only
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def resume_command(command: Sequence[str] | None, run_name: str, topology: Topology) -> str:
    """The command line that continues this run: the original one with ``--run-name NAME --resume auto``."""
    if command is None:
        return f"the same settings with --run-name {shlex.quote(run_name)} --resume auto"
    kept, skip = [], False
    for arg in command:
        if skip:
            skip = False
        elif arg in ("--run-name", "--resume"):
            skip = True
        elif not (arg.startswith(("--run-name=", "--resume=")) or arg in ("--overwrite", "--no-overwrite")):
            kept.append(arg)
    if topology.distributed:
        local = os.environ.get("LOCAL_WORLD_SIZE", str(topology.world_size))
        single_node = local == str(topology.world_size)
        prefix = [
            "torchrun",
            "--standalone" if single_node else "<your torchrun options>",
            "--nproc-per-node",
            local,
            "-m",
            "dni_rnn",
        ]
    else:
        prefix = ["dni-rnn"]
    return shlex.join([*prefix, *kept, "--run-name", run_name, "--resume", "auto"])
