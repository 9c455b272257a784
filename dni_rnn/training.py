"""The training loop every task shares: stream windows, step the engine, log, evaluate, checkpoint.

A run owns ``<logdir>/<run-name>/`` while it lives (an exclusive lock on ``.lock``); it refuses to start
over a directory that already holds a checkpoint unless told to ``--resume`` or ``--overwrite``. SIGTERM
and SIGINT only set a flag: the current window finishes, every rank agrees to stop at that window
boundary, rank 0 writes ``checkpoint.pt`` and the run ends with one line giving the command that continues
it. A checkpoint is never written with non-finite weights.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from dni_rnn.checkpoint import (
    RunLock,
    all_finite,
    check_same_config,
    load_checkpoint,
    previous_path,
    remove_orphans,
    save_atomic,
)
from dni_rnn.distributed import (
    Topology,
    any_rank,
    average_metrics,
    barrier,
    broadcast_object,
    gather_objects,
    gather_state,
    init_from_env,
    local_device,
    shard_state,
    shard_window,
    shutdown,
    sum_over_ranks,
)
from dni_rnn.engine import EngineConfig, NonFiniteError, WindowEngine
from dni_rnn.head import split_private
from dni_rnn.run_directory import SUMMARY, format_run_name, write_summary
from dni_rnn.state import map_state, state_tensors
from dni_rnn.task import Actor, Task, evaluating, load_task
from dni_rnn.tensorboard_log import Ratio, RunLogger
from dni_rnn.train_config import DEVICES, LR_SCHEDULES, TrainConfig, resolve_device

__all__ = [
    "DEVICES",
    "LR_SCHEDULES",
    "RunInterrupted",
    "TrainConfig",
    "evaluate_checkpoint",
    "load_run",
    "lr_factor",
    "resolve_device",
    "train",
]
# Settings that do not change what a run computes: they may differ between an interrupted run and its
# resumption. A task adds its own with a ``resume_ignores`` tuple of option names (e.g. a data path; the
# data themselves are compared by the checksum its ``data_checksum()`` returns).
RESUMABLE_SETTINGS = {
    "train.steps",
    "train.resume",
    "train.overwrite",
    "train.progress",
    "train.log_every",
    "train.checkpoint_every",
    "train.eval_every",
    "train.patience",
    "train.threads",
    "train.logdir",
    "train.device",
    "train.run_name",
}


class RunInterrupted(Exception):
    """A signal stopped the run at a window boundary; its checkpoint is written. The message (one line)
    says how to continue."""


def lr_factor(schedule: str, final: float, window: int, total_windows: int) -> float:
    """The core's learning rate at ``window`` as a fraction of ``--lr``: 1 for constant, else decaying from 1
    at the first window to ``final`` at the last (a pure function of the window: resuming stays exact)."""
    if schedule == "constant" or total_windows <= 1:
        return 1.0
    progress = min(window / (total_windows - 1), 1.0)
    if schedule == "linear":
        return 1.0 - (1.0 - final) * progress
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def default_run_name(train: TrainConfig, engine: EngineConfig) -> str:
    return format_run_name(train.task, engine.method, train.horizon, train.seed, variant=str(int(time.time())))


def flat_config(train: TrainConfig, engine: EngineConfig, options) -> dict:
    """Every setting as ``section.name -> value``: the hyperparameter text and the resume check."""
    sections = {"train": train, "engine": engine, "task": options}
    return {f"{section}.{k}": v for section, obj in sections.items() for k, v in dataclasses.asdict(obj).items()}


def _rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def _note(message: str, topology: Topology) -> None:
    """One line on stderr, from rank 0 only."""
    if topology.is_main:
        print(f"dni-rnn: {message}", file=sys.stderr, flush=True)


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
                _note(
                    f"removed {len(orphans)} unfinished checkpoint file(s) left in {run_dir} by a killed run", topology
                )
            previous = previous_path(checkpoint_path)
            saved = checkpoint_path if checkpoint_path.is_file() else previous if previous.is_file() else None
            if train_cfg.resume == "auto":
                if saved is None:
                    _note(f"no checkpoint in {run_dir} yet: starting run {train_cfg.run_name} afresh", topology)
                elif saved == previous:
                    _note(f"{checkpoint_path} is missing: resuming from {previous}", topology)
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


def train(train_cfg: TrainConfig, engine_cfg: EngineConfig, options, command: Sequence[str] | None = None) -> dict:
    """Run (or resume) one training run; returns its summary (also written to ``summary.json``).

    Args:
        command: the ``dni-rnn`` arguments of this run (``["train", "copy", ...]``), quoted back in the
            message of an interrupted run as the command that continues it.

    Raises:
        RunInterrupted: SIGTERM / SIGINT stopped the run at a window boundary; its checkpoint is written.
        NonFiniteError: the NaN guard stopped the run; the last checkpoint with finite weights is kept.
        ValueError: bad settings, a busy or unusable run directory, a checkpoint that does not fit.
    """
    task_class = load_task(train_cfg.task)
    device = local_device(resolve_device(train_cfg.device))
    topology = init_from_env(device)
    try:
        if topology.distributed:
            if not (task_class.data_parallel or task_class.local_windows):
                raise ValueError(
                    f"task {train_cfg.task!r} acts with the model and cannot be split over processes; run it in one"
                )
            if train_cfg.batch_size % topology.world_size:
                raise ValueError(
                    f"--batch-size {train_cfg.batch_size} cannot be split evenly over {topology.world_size} processes"
                )
        if train_cfg.threads:
            torch.set_num_threads(train_cfg.threads)
        torch.manual_seed(train_cfg.seed)
        random.seed(train_cfg.seed)
        np.random.seed(train_cfg.seed)
        if train_cfg.run_name is None:  # rank 0's clock names the run of every rank
            name = broadcast_object(default_run_name(train_cfg, engine_cfg), topology)
            train_cfg = dataclasses.replace(train_cfg, run_name=name)
        run_dir = Path(train_cfg.logdir) / train_cfg.run_name
        lock, resume_from = open_run_dir(train_cfg, run_dir, topology)
        try:
            return _run(train_cfg, engine_cfg, options, task_class, device, topology, run_dir, resume_from, command)
        finally:
            if lock is not None:
                lock.release()
    finally:
        shutdown()


def _to_cpu(value):
    """``value`` with every tensor in it moved to the CPU (to send it to another rank)."""
    if torch.is_tensor(value):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    return value


def local_task_config(train_cfg: TrainConfig, topology: Topology) -> TrainConfig:
    """What a task with ``local_windows`` sees on one rank: its own ``B / world_size`` streams and a seed of
    its own (from ``(seed, rank)``, so ranks never share environment seeds and runs never share ranks')."""
    if not topology.distributed:
        return train_cfg
    seed = int(np.random.SeedSequence([train_cfg.seed, topology.rank]).generate_state(1)[0])
    return dataclasses.replace(train_cfg, batch_size=train_cfg.batch_size // topology.world_size, seed=seed)


def _run(
    train_cfg: TrainConfig,
    engine_cfg: EngineConfig,
    options,
    task_class: type[Task],
    device: torch.device,
    topology: Topology,
    run_dir: Path,
    resume_from: Path | None,
    command: Sequence[str] | None,
) -> dict:
    checkpoint_path = run_dir / "checkpoint.pt"
    # A task with local_windows (RL: it acts in environments) builds this rank's streams itself: its windows
    # are not sharded, and the checkpoint keeps the task state of every rank.
    local_windows = topology.distributed and task_class.local_windows
    task = task_class(options, local_task_config(train_cfg, topology) if local_windows else train_cfg, device)
    config = flat_config(train_cfg, engine_cfg, options)
    data_checksum = getattr(task, "data_checksum", None)
    if callable(data_checksum):
        config["task.data_sha256"] = data_checksum()
    ignored = RESUMABLE_SETTINGS | {f"task.{name}" for name in task_class.resume_ignores}
    core = task.build_core()
    engine = WindowEngine(core, task.build_head(core.output_size), engine_cfg, task.context_size).to(device)
    if topology.distributed:
        engine.distribute(device_ids=[device.index] if device.type == "cuda" else None)
    # Every rank carries the state of its own streams only.
    state = engine.initial_state(train_cfg.batch_size // topology.world_size, device)
    window, wall_before = 0, 0.0
    best = {"value": float("inf"), "stale": 0}

    if resume_from is not None:
        payload = load_checkpoint(resume_from)
        check_same_config(payload["config"], config, ignored, resume_from)
        engine.load_state_dict(payload["engine"])
        engine.load_optimizer_state_dict(payload["optimizers"])
        task_state = payload["task"]
        if local_windows or "ranks" in task_state:
            ranks = task_state.get("ranks", [task_state])
            if len(ranks) != topology.world_size:
                raise ValueError(
                    f"checkpoint {resume_from} holds the task state of {len(ranks)} process(es); "
                    f"resume it with --nproc-per-node {len(ranks)}"
                )
            task_state = ranks[topology.rank]
        task.load_state_dict(task_state)
        dtype = state_tensors(state)[0].dtype  # the model's: a checkpoint may come from another default dtype
        state = shard_state(map_state(lambda t: t.to(device=device, dtype=dtype), payload["state"]), topology)
        _set_rng_state(payload["rng"])
        window, wall_before, best = payload["window"], payload["wall_seconds"], payload["best"]

    samples_per_window = train_cfg.horizon * train_cfg.batch_size
    total_windows = train_cfg.steps // train_cfg.horizon
    if train_cfg.steps % train_cfg.horizon:
        _note(
            f"--steps {train_cfg.steps} is not a multiple of --horizon {train_cfg.horizon}: the run trains "
            f"{total_windows} windows = {total_windows * train_cfg.horizon} steps",
            topology,
        )
    logger = RunLogger(
        str(run_dir),
        config,
        purge_step=window * samples_per_window if window else None,
        enabled=topology.is_main,
        sum_ratios=sum_over_ranks if topology.distributed else None,
    )
    if resume_from is not None and payload.get("logger") is not None:
        loggers = payload["logger"]  # one per rank: a Ratio of a task with local windows sums over ranks
        own = (
            loggers[topology.rank] if len(loggers) == topology.world_size else loggers[0] if topology.is_main else None
        )
        if own is not None:
            logger.load_state_dict(own, device)
    started = time.perf_counter()
    saved_window = {"checkpoint": window if resume_from is not None else None}

    def checkpoint(path: Path = checkpoint_path) -> bool:
        """Save the run (rank 0; every rank must call: the state is gathered). False if the weights are not
        finite: the file already there is kept."""
        global_state = gather_state(state, topology)  # a collective
        task_state = (
            {"ranks": gather_objects(_to_cpu(task.state_dict()), topology)} if local_windows else task.state_dict()
        )
        logger_states = gather_objects(_to_cpu(logger.state_dict()), topology)
        if not topology.is_main:
            return True
        weights = engine.state_dict()
        if not (all_finite(weights) and all_finite(dict(enumerate(state_tensors(global_state))))):
            _note(
                f"the weights at window {window} are not finite: {path.name} not written"
                + (
                    f" (kept the one of window {saved_window['checkpoint']})"
                    if path == checkpoint_path and saved_window["checkpoint"] is not None
                    else ""
                ),
                topology,
            )
            return False
        save_atomic(
            {
                "config": config,
                "engine": weights,
                "optimizers": engine.optimizer_state_dict(),
                "task": task_state,
                "logger": logger_states,
                "state": global_state,
                "rng": _rng_state(),
                "window": window,
                "best": best,
                "wall_seconds": wall_before + time.perf_counter() - started,
            },
            path,
            keep_previous=path == checkpoint_path,
        )
        if path == checkpoint_path:
            saved_window["checkpoint"] = window
        return True

    def evaluate(final: bool = False) -> dict:
        """Evaluate, log, keep best.pt, count evaluations without improvement; returns the scalars."""
        with evaluating(engine.core, engine.head):
            values = task.evaluate(engine.core, engine.head, final=final)
        logger.scalars(values, window * samples_per_window)
        if task.best_metric is not None and task.best_metric in values:
            if values[task.best_metric] < best["value"]:
                best["value"], best["stale"] = values[task.best_metric], 0
                checkpoint(run_dir / "best.pt")
            else:
                best["stale"] += 1
        return values

    actor = Actor(engine.core, engine.head)
    bar = tqdm(
        total=total_windows,
        initial=window,
        disable=not (train_cfg.progress and topology.is_main),
        unit="win",
        dynamic_ncols=True,
        desc=train_cfg.run_name[:40],
    )
    with StopSignal() as stop:
        try:
            interrupted = False
            while window < total_windows:
                if train_cfg.lr_schedule != "constant":
                    engine.set_lr_factor(lr_factor(train_cfg.lr_schedule, train_cfg.lr_final, window, total_windows))
                batch, state = task.next_window(actor, state)
                state, metrics = engine.step(
                    batch if local_windows else shard_window(batch, topology, core.batch_first), state
                )
                metrics, private = split_private(average_metrics(metrics, topology))
                logger.accumulate(metrics)
                window += 1
                samples = window * samples_per_window
                observed = task.observe(metrics, private)
                logger.accumulate({tag: value for tag, value in observed.items() if isinstance(value, Ratio)})
                task_scalars = {tag: value for tag, value in observed.items() if not isinstance(value, Ratio)}
                if task_scalars:
                    logger.scalars(task_scalars, samples)
                if window % train_cfg.log_every == 0:
                    values = logger.flush_window_metrics(samples)
                    bar.set_postfix(task.progress({**values, **task_scalars}))
                # The trainer's evaluation policy: every --eval-every windows, and once, final, at the end.
                if train_cfg.eval_every and window % train_cfg.eval_every == 0 and window < total_windows:
                    evaluate()
                    if train_cfg.patience and best["stale"] >= train_cfg.patience:
                        break
                if train_cfg.checkpoint_every and window % train_cfg.checkpoint_every == 0:
                    checkpoint()
                bar.update(1)
                # The window is complete: stop here if any rank was signalled (one tiny all-reduce per window
                # when distributed, so every rank stops at the same boundary).
                if any_rank(stop.signum is not None, topology):
                    interrupted = window < total_windows
                    break
        except NonFiniteError as error:
            # The skipped updates never reached the weights, so the model saved now is the one from before the
            # fault, unless the weights themselves went non-finite: then the last finite checkpoint is kept.
            bar.close()
            saved = checkpoint() if saved_window["checkpoint"] != window else True
            logger.close()
            where = (
                f"weights from before the fault saved to {checkpoint_path}"
                if saved
                else f"{checkpoint_path} holds window {saved_window['checkpoint']}"
                if saved_window["checkpoint"] is not None
                else "no checkpoint written"
            )
            raise NonFiniteError(f"{error}; {where}; {engine.skipped_windows} windows skipped in all") from None
        bar.close()
        if interrupted:
            if saved_window["checkpoint"] != window:
                checkpoint()
            barrier(topology)  # no rank leaves before rank 0 has written the checkpoint
            logger.close()
            raise RunInterrupted(
                f"interrupted at window {window} of {total_windows}; checkpoint saved to "
                f"{checkpoint_path}; continue with: {resume_command(command, train_cfg.run_name, topology)}"
            )
        samples = window * samples_per_window
        logger.flush_window_metrics(samples)
        final_eval = evaluate(final=True)
        checkpoint()
        barrier(topology)
        logger.close()
    if engine.skipped_windows:
        _note(f"the NaN guard skipped {engine.skipped_windows} of {window} windows (no update from them)", topology)
    summary = {
        "run_name": train_cfg.run_name,
        "task": train_cfg.task,
        "method": engine_cfg.method,
        "horizon": train_cfg.horizon,
        "seed": train_cfg.seed,
        "samples": samples,
        "windows": window,
        "skipped_windows": engine.skipped_windows,
        "wall_seconds": wall_before + time.perf_counter() - started,
        **final_eval,
        **({f"best_{task.best_metric}": best["value"]} if task.best_metric in final_eval else {}),
        **task.summary(),
    }
    if topology.is_main:
        write_summary(run_dir, summary)
    return summary


def split_config(config: dict) -> dict[str, dict]:
    """Inverse of :func:`flat_config`: ``{"train": {...}, "engine": {...}, "task": {...}}``."""
    sections: dict[str, dict] = {"train": {}, "engine": {}, "task": {}}
    for key, value in config.items():
        section, name = key.split(".", 1)
        sections[section][name] = value
    return sections


def load_run(path: str, task: str | None = None, device: str = "auto"):
    """Rebuild the task and the trained engine of a checkpoint (of ``task``, if given): ``(task, engine, payload)``."""
    payload = load_checkpoint(path)
    sections = split_config(payload["config"])
    if task is not None and sections["train"]["task"] != task:
        raise ValueError(f"checkpoint {path} is a {sections['train']['task']!r} run, not {task!r}")
    train_cfg = TrainConfig(**{**sections["train"], "device": device, "resume": None, "overwrite": False})
    engine_cfg = EngineConfig(**sections["engine"])
    task_class = load_task(train_cfg.task)
    task_obj = task_class(task_class.Config(**sections["task"]), train_cfg, resolve_device(device))
    core = task_obj.build_core()
    engine = WindowEngine(core, task_obj.build_head(core.output_size), engine_cfg, task_obj.context_size).to(
        resolve_device(device)
    )
    try:
        engine.load_state_dict(payload["engine"])
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path} does not match its own config ({str(error).splitlines()[0]})") from None
    return task_obj, engine, payload


def evaluate_checkpoint(path: str, task: str | None = None, device: str = "auto") -> dict:
    """Rebuild the task and model of a checkpoint (of ``task``, if given) and run the task's final evaluation."""
    task_obj, engine, payload = load_run(path, task, device)
    with evaluating(engine.core, engine.head):
        result = task_obj.evaluate(engine.core, engine.head, final=True)
    return {"checkpoint": str(path), "window": payload["window"], **result}
