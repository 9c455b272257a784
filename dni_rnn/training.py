"""The training loop every task shares: stream windows, step the engine, log, evaluate, checkpoint."""
from __future__ import annotations

import dataclasses
import json
import math
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dni_rnn.checkpoint import check_same_config, load_checkpoint, save_atomic
from dni_rnn.config import option
from dni_rnn.cores import CELLS
from dni_rnn.distributed import (
    average_metrics,
    gather_state,
    init_from_env,
    local_device,
    shard_state,
    shard_window,
)
from dni_rnn.engine import EngineConfig, NonFiniteError, WindowEngine
from dni_rnn.logging import RunLogger
from dni_rnn.state import map_state, state_tensors
from dni_rnn.task import load_task

DEVICES = ("auto", "cpu", "cuda")
LR_SCHEDULES = ("constant", "linear", "cosine")
# Settings that may change between an interrupted run and its resumption.
RESUMABLE_SETTINGS = {"train.steps", "train.resume", "train.progress", "train.log_every", "train.checkpoint_every",
                      "train.threads", "train.logdir", "train.device"}


@dataclass
class TrainConfig:
    """A training run. Every field is a ``--flag`` of ``dni-rnn train TASK``."""

    task: str = option("copy", "Task to train (an entry point of the dni_rnn.tasks group).")
    horizon: int = option(4, "T, time steps per window (the backprop truncation).")
    steps: int = option(100_000, "Length of the run in time steps of each stream (samples = steps x batch); counts the total across resumes.")
    batch_size: int = option(64, "B, parallel streams.")
    cell: str = option("lstm", "Recurrent cell: lstm or gru.")
    hidden: int = option(128, "Hidden units per layer.")
    layers: int = option(1, "Stacked recurrent layers.")
    seed: int = option(0, "Seed of every random number generator of the run.")
    device: str = option("auto", "auto (cuda when present), cpu or cuda.")
    threads: int = option(0, "torch intra-op threads; 0 keeps torch's default.")
    logdir: str = option("logs", "Directory of the runs; each writes logs/<run-name>/.")
    run_name: str | None = option(None, "Name of the run; default {task}__{method}__T{T}__s{seed}__{time}.")
    log_every: int = option(100, "Windows between two TensorBoard points.")
    eval_every: int = option(0, "Windows between two evaluations (tasks that evaluate); 0: only at the end.")
    checkpoint_every: int = option(0, "Windows between two checkpoints; 0: only at the end (and on SIGTERM / Ctrl-C).")
    patience: int = option(0, "Stop after this many evaluations without improving the task's best metric; 0: never.")
    resume: str | None = option(None, "Checkpoint to continue from, or 'auto' for <logdir>/<run-name>/checkpoint.pt.")
    progress: bool = option(True, "Show a progress bar on the terminal.")
    lr_schedule: str = option("constant", "Learning rate of the core over the run: constant, linear or cosine decay to lr x --lr-final.")
    lr_final: float = option(0.1, "With a decaying --lr-schedule, the last window's learning rate as a fraction of --lr.")

    def __post_init__(self):
        for name in ("horizon", "steps", "batch_size", "hidden", "layers", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.steps < self.horizon:
            raise ValueError(f"--steps ({self.steps}) must be at least one window (--horizon {self.horizon})")
        for name in ("eval_every", "checkpoint_every", "threads", "patience"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr schedule {self.lr_schedule!r}; choose one of {', '.join(LR_SCHEDULES)}")
        if not 0.0 <= self.lr_final <= 1.0:
            raise ValueError(f"--lr-final must be in [0, 1], got {self.lr_final}")
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but no CUDA device is available; use --device auto or cpu")


def lr_factor(schedule: str, final: float, window: int, total_windows: int) -> float:
    """The core's learning rate at ``window`` as a fraction of ``--lr``: 1 for constant, else decaying from 1
    at the first window to ``final`` at the last (a pure function of the window: resuming stays exact)."""
    if schedule == "constant" or total_windows <= 1:
        return 1.0
    progress = min(window / (total_windows - 1), 1.0)
    if schedule == "linear":
        return 1.0 - (1.0 - final) * progress
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def default_run_name(train: TrainConfig, engine: EngineConfig) -> str:
    return f"{train.task}__{engine.method}__T{train.horizon}__s{train.seed}__{int(time.time())}"


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


class _Interrupted(Exception):
    pass


def _raise_interrupted(signum, frame):
    raise _Interrupted()


def train(train_cfg: TrainConfig, engine_cfg: EngineConfig, options) -> dict:
    """Run (or resume) one training run; returns its summary (also written to ``summary.json``)."""
    task_class = load_task(train_cfg.task)
    device = local_device(resolve_device(train_cfg.device))
    topology = init_from_env(device)
    if topology.distributed:
        if not task_class.data_parallel:
            raise ValueError(f"task {train_cfg.task!r} acts with the model and cannot be split over processes; run it in one")
        if train_cfg.batch_size % topology.world_size:
            raise ValueError(f"--batch-size {train_cfg.batch_size} cannot be split evenly over {topology.world_size} processes")
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    torch.manual_seed(train_cfg.seed)
    random.seed(train_cfg.seed)
    np.random.seed(train_cfg.seed)
    if train_cfg.run_name is None:
        train_cfg = dataclasses.replace(train_cfg, run_name=default_run_name(train_cfg, engine_cfg))
    run_dir = Path(train_cfg.logdir) / train_cfg.run_name
    checkpoint_path = run_dir / "checkpoint.pt"
    config = flat_config(train_cfg, engine_cfg, options)

    task = task_class(options, train_cfg, device)
    core = task.build_core()
    engine = WindowEngine(core, task.task_loss(core.output_size), engine_cfg, task.context_size).to(device)
    if topology.distributed:
        engine.distribute(device_ids=[device.index] if device.type == "cuda" else None)
    # Every rank carries the state of its own streams only.
    state = engine.initial_state(train_cfg.batch_size // topology.world_size, device)
    window, wall_before = 0, 0.0
    best = {"value": float("inf"), "stale": 0}

    if train_cfg.resume is not None:
        resume_path = checkpoint_path if train_cfg.resume == "auto" else Path(train_cfg.resume)
        payload = load_checkpoint(resume_path)
        check_same_config(payload["config"], config, RESUMABLE_SETTINGS | {"train.run_name"}, resume_path)
        engine.load_state_dict(payload["engine"])
        engine.load_optimizer_state_dict(payload["optimizers"])
        task.load_state_dict(payload["task"])
        dtype = state_tensors(state)[0].dtype  # the model's: a checkpoint may come from another default dtype
        state = shard_state(map_state(lambda t: t.to(device=device, dtype=dtype), payload["state"]), topology)
        _set_rng_state(payload["rng"])
        window, wall_before, best = payload["window"], payload["wall_seconds"], payload["best"]

    samples_per_window = train_cfg.horizon * train_cfg.batch_size
    total_windows = train_cfg.steps // train_cfg.horizon
    logger = RunLogger(str(run_dir), config, purge_step=window * samples_per_window if window else None,
                       enabled=topology.is_main)
    started = time.perf_counter()

    def checkpoint(path=checkpoint_path):
        global_state = gather_state(state, topology)  # a collective: every rank calls checkpoint()
        if not topology.is_main:
            return
        save_atomic(
            {
                "config": config,
                "engine": engine.state_dict(),
                "optimizers": engine.optimizer_state_dict(),
                "task": task.state_dict(),
                "state": global_state,
                "rng": _rng_state(),
                "window": window,
                "best": best,
                "wall_seconds": wall_before + time.perf_counter() - started,
            },
            path,
        )

    def evaluate(final: bool = False) -> dict:
        """Evaluate, log, keep best.pt, count evaluations without improvement; returns the scalars."""
        values = task.evaluate(engine, final=final)
        logger.scalars(values, window * samples_per_window)
        if task.best_metric is not None and task.best_metric in values:
            if values[task.best_metric] < best["value"]:
                best["value"], best["stale"] = values[task.best_metric], 0
                checkpoint(run_dir / "best.pt")
            else:
                best["stale"] += 1
        return values

    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupted)
    bar = tqdm(total=total_windows, initial=window, disable=not (train_cfg.progress and topology.is_main), unit="win", dynamic_ncols=True,
               desc=train_cfg.run_name[:40])
    try:
        while window < total_windows:
            if train_cfg.lr_schedule != "constant":
                engine.set_lr_factor(lr_factor(train_cfg.lr_schedule, train_cfg.lr_final, window, total_windows))
            batch, state = task.next_window(engine, state)
            state, metrics = engine.step(shard_window(batch, topology, core.batch_first), state)
            metrics = average_metrics(metrics, topology)
            logger.accumulate(metrics)
            window += 1
            samples = window * samples_per_window
            task_scalars = task.observe(metrics)
            if task_scalars:
                logger.scalars(task_scalars, samples)
            if window % train_cfg.log_every == 0:
                values = logger.flush_window_metrics(samples)
                bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in {**values, **task_scalars}.items()
                                 if k in ("losses/task", "charts/curriculum_length", "charts/curriculum_repeats")})
            if train_cfg.eval_every and window % train_cfg.eval_every == 0:
                evaluate()
                if train_cfg.patience and best["stale"] >= train_cfg.patience:
                    break
            if train_cfg.checkpoint_every and window % train_cfg.checkpoint_every == 0:
                checkpoint()
            bar.update(1)
    except (KeyboardInterrupt, _Interrupted):
        bar.close()
        checkpoint()
        logger.close()
        raise SystemExit(f"interrupted at window {window}; checkpoint saved to {checkpoint_path} (continue with --resume auto)")
    except NonFiniteError as error:
        # The skipped updates never reached the weights, so the model saved now is the one from before the fault.
        bar.close()
        checkpoint()
        logger.close()
        raise SystemExit(f"dni-rnn: error: {error}; weights from before the fault saved to {checkpoint_path}")
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    bar.close()
    samples = window * samples_per_window
    logger.flush_window_metrics(samples)
    final_eval = evaluate(final=True)
    checkpoint()
    logger.close()
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
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
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
    train_cfg = TrainConfig(**{**sections["train"], "device": device, "resume": None})
    engine_cfg = EngineConfig(**sections["engine"])
    task_class = load_task(train_cfg.task)
    task_obj = task_class(task_class.Config(**sections["task"]), train_cfg, resolve_device(device))
    core = task_obj.build_core()
    engine = WindowEngine(core, task_obj.task_loss(core.output_size), engine_cfg, task_obj.context_size).to(resolve_device(device))
    try:
        engine.load_state_dict(payload["engine"])
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path} does not match its own config ({str(error).splitlines()[0]})") from None
    return task_obj, engine, payload


def evaluate_checkpoint(path: str, task: str | None = None, device: str = "auto") -> dict:
    """Rebuild the task and model of a checkpoint (of ``task``, if given) and run the task's final evaluation."""
    task_obj, engine, payload = load_run(path, task, device)
    return {"checkpoint": str(path), "window": payload["window"], **task_obj.evaluate(engine, final=True)}
