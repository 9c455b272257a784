"""What a run's checkpoint holds, assembled and restored in one place.

A checkpoint holds the model and ``M`` (the engine's weights), both optimisers, the task's state (every
rank's for a task with local windows), the logger's partial sums (one per rank), the global carried state,
every RNG state, the window count, the best validation value, the wall time so far and the whole flat
configuration. It is never written with non-finite weights.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch

from dni_rnn.checkpoint import all_finite, check_same_config, load_checkpoint, save_atomic
from dni_rnn.distributed import Topology, gather_objects, gather_state, shard_state
from dni_rnn.engine import WindowEngine
from dni_rnn.run_config import LEGACY_DEFAULTS
from dni_rnn.run_opening import note
from dni_rnn.state import State, map_state, state_tensors
from dni_rnn.task import Task
from dni_rnn.tensorboard_log import RunLogger


def rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def to_cpu(value):
    """``value`` with every tensor in it moved to the CPU (to send it to another rank)."""
    if torch.is_tensor(value):
        return value.cpu()
    if isinstance(value, dict):
        return {key: to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(item) for item in value)
    return value


class Restored:
    """Where a resumed run picks up: its carried state, window count, wall time so far and best value."""

    def __init__(self, payload: dict, state: State, window: int, wall_seconds: float, best: dict):
        self.payload, self.state, self.window, self.wall_seconds, self.best = payload, state, window, wall_seconds, best


def restore(
    path: Path,
    config: dict,
    ignored: set[str],
    engine: WindowEngine,
    task: Task,
    state: State,
    topology: Topology,
    local_windows: bool,
    device: torch.device,
    branch: bool = False,
) -> Restored:
    """Load the checkpoint at ``path`` into ``engine``, ``task`` and the RNGs (after checking that it is of the
    same config); ``state`` is the fresh carried state, whose dtype the loaded one takes. A ``branch`` keeps
    this run's learning rates and turns a model that does not fit into a one-line ``ValueError``."""
    payload = load_checkpoint(path)
    check_same_config({**LEGACY_DEFAULTS, **payload["config"]}, config, ignored, path)
    task_state = payload["task"]
    if local_windows or "ranks" in task_state:
        ranks = task_state.get("ranks", [task_state])
        if len(ranks) != topology.world_size:
            raise ValueError(
                f"checkpoint {path} holds the task state of {len(ranks)} process(es); "
                f"resume it with --nproc-per-node {len(ranks)}"
            )
        task_state = ranks[topology.rank]
    try:
        engine.load_state_dict(payload["engine"])
        engine.load_optimizer_state_dict(payload["optimizers"], keep_learning_rates=branch)
        task.load_state_dict(task_state)
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        if not branch:
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"cannot branch from {path}: its model, M or task state differs from this run's ({first})"
        ) from None
    dtype = state_tensors(state)[0].dtype  # the model's: a checkpoint may come from another default dtype
    state = shard_state(map_state(lambda t: t.to(device=device, dtype=dtype), payload["state"]), topology)
    set_rng_state(payload["rng"])
    return Restored(payload, state, payload["window"], payload["wall_seconds"], payload["best"])


def restore_logger(payload: dict, logger: RunLogger, topology: Topology, device: torch.device) -> None:
    """The logger's partial sums since its last point (this rank's; a Ratio of local windows sums over ranks)."""
    loggers = payload.get("logger")
    if loggers is None:
        return
    own = loggers[topology.rank] if len(loggers) == topology.world_size else loggers[0] if topology.is_main else None
    if own is not None:
        logger.load_state_dict(own, device)


class RunCheckpointer:
    """Saves the run (rank 0 writes; every rank must call :meth:`save`, the state is gathered).

    Args:
        checkpoint_path: ``<run>/checkpoint.pt``; saving over it keeps the previous one.
        config: the flat configuration stored with (and compared against on resume).
        wall_before: the wall seconds of the run before this process started (0 for a fresh run).
        saved_window: the window of the checkpoint already at ``checkpoint_path`` (None: none yet).
    """

    def __init__(
        self,
        checkpoint_path: Path,
        config: dict,
        engine: WindowEngine,
        task: Task,
        logger: RunLogger,
        topology: Topology,
        local_windows: bool,
        wall_before: float,
        saved_window: int | None,
    ):
        self.checkpoint_path = checkpoint_path
        self.config, self.engine, self.task, self.logger = config, engine, task, logger
        self.topology, self.local_windows = topology, local_windows
        self.wall_before = wall_before
        self.started = time.perf_counter()
        self.saved_window = saved_window

    def wall_seconds(self) -> float:
        """Wall time of the whole run so far, across resumes."""
        return self.wall_before + time.perf_counter() - self.started

    def save(self, window: int, state: State, best: dict, path: Path | None = None) -> bool:
        """Save the run at ``window`` to ``path`` (default ``checkpoint.pt``). False if the weights are not
        finite: the file already there is kept."""
        path = self.checkpoint_path if path is None else path
        topology = self.topology
        global_state = gather_state(state, topology)  # a collective
        task_state = (
            {"ranks": gather_objects(to_cpu(self.task.state_dict()), topology)}
            if self.local_windows
            else self.task.state_dict()
        )
        logger_states = gather_objects(to_cpu(self.logger.state_dict()), topology)
        if not topology.is_main:
            return True
        weights = self.engine.state_dict()
        if not (all_finite(weights) and all_finite(dict(enumerate(state_tensors(global_state))))):
            note(
                f"the weights at window {window} are not finite: {path.name} not written"
                + (
                    f" (kept the one of window {self.saved_window})"
                    if path == self.checkpoint_path and self.saved_window is not None
                    else ""
                ),
                topology,
            )
            return False
        save_atomic(
            {
                "config": self.config,
                "engine": weights,
                "optimizers": self.engine.optimizer_state_dict(),
                "task": task_state,
                "logger": logger_states,
                "state": global_state,
                "rng": rng_state(),
                "window": window,
                "best": best,
                "wall_seconds": self.wall_seconds(),
            },
            path,
            keep_previous=path == self.checkpoint_path,
        )
        if path == self.checkpoint_path:
            self.saved_window = window
        return True
