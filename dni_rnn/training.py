"""The training loop every task shares: stream windows, step the engine, log, evaluate, checkpoint.

SIGTERM and SIGINT only set a flag: the current window finishes, every rank agrees to stop at that window
boundary, rank 0 writes ``checkpoint.pt`` and the run ends with one line giving the command that continues
it. The pieces around the loop live beside it: ``run_opening`` (the run directory, its lock, the resume
decision), ``run_checkpoint`` (what a checkpoint holds), ``evaluation`` (the evaluation policy, best.pt),
``stopping`` (signals), ``progress`` (the bar), ``run_report`` (the end of a run), ``run_config``
(config.json and the flat settings).
"""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dni_rnn.distributed import (
    Topology,
    any_rank,
    average_metrics,
    barrier,
    broadcast_object,
    init_from_env,
    local_device,
    shard_window,
    shutdown,
    sum_over_ranks,
)
from dni_rnn.engine import EngineConfig, NonFiniteError, WindowEngine
from dni_rnn.evaluation import Evaluator, evaluate_checkpoint, load_run
from dni_rnn.head import split_private
from dni_rnn.progress import Progress
from dni_rnn.run_checkpoint import RunCheckpointer, restore, restore_logger
from dni_rnn.run_config import BRANCH_FIXED, RESUMABLE_SETTINGS, flat_config, split_config, write_config
from dni_rnn.run_directory import format_run_name, write_summary
from dni_rnn.run_opening import note, open_run_dir
from dni_rnn.run_report import figures_of_merit
from dni_rnn.stopping import RunInterrupted, StopSignal, resume_command
from dni_rnn.task import Actor, Task, load_task
from dni_rnn.tensorboard_log import Ratio, RunLogger
from dni_rnn.train_config import DEVICES, LR_SCHEDULES, TrainConfig, lr_factor, resolve_device

__all__ = [
    "DEVICES",
    "LR_SCHEDULES",
    "RunInterrupted",
    "TrainConfig",
    "evaluate_checkpoint",
    "flat_config",
    "load_run",
    "lr_factor",
    "resolve_device",
    "split_config",
    "train",
]


def default_run_name(train: TrainConfig, engine: EngineConfig) -> str:
    return format_run_name(train.task, engine.method, train.horizon, train.seed, variant=str(int(time.time())))


def hyperparameters(config: dict, task_class: type[Task]) -> dict:
    """The settings of the HParams table: those that change what a run computes, plus its length."""
    left_out = (RESUMABLE_SETTINGS - {"train.steps"}) | {f"task.{name}" for name in task_class.resume_ignores}
    return {key: value for key, value in config.items() if key not in left_out and key != "task.data_sha256"}


def logs_window(window: int, log_every: int, total_windows: int) -> bool:
    """Whether window ``window`` (0-based) writes a log point: the ``--log-every``-th window of an interval, or
    the run's last window (the final point). Only that window computes the engine's metrics that are logged
    and nothing else (``collect_metrics``: ``charts/sg_norm``, ``charts/delta_norm``, ``charts/sg_online_cosine``),
    so those tags are the value of the window that writes the point rather than an average over the interval.
    The final point of a run stopped early (``--patience``) has none of them."""
    return (window + 1) % log_every == 0 or window + 1 == total_windows


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
        if train_cfg.branch_from is not None:  # checked before the run directory is opened (and maybe cleared)
            parent = Path(train_cfg.branch_from)
            if not parent.is_file():
                raise ValueError(f"--branch-from {parent}: no such checkpoint")
            if parent.resolve().parent == run_dir.resolve():
                raise ValueError(
                    f"--branch-from {parent} is this run's own checkpoint; give the branch another --run-name"
                )
        lock, resume_from = open_run_dir(train_cfg, run_dir, topology)
        try:
            # A branch starts from its parent's checkpoint once; after that it resumes from its own.
            branch = resume_from is None and train_cfg.branch_from is not None
            if branch:
                resume_from = Path(train_cfg.branch_from)
            if topology.is_main:
                write_config(run_dir, train_cfg, engine_cfg, options)
            return _run(
                train_cfg, engine_cfg, options, task_class, device, topology, run_dir, resume_from, command, branch
            )
        finally:
            if lock is not None:
                lock.release()
    finally:
        shutdown()


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
    branch: bool = False,
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
    if train_cfg.lr_schedule != "constant":  # a decaying rate is a function of the run's length: --steps counts
        ignored = ignored - {"train.steps"}
    if engine_cfg.method != "dni_aux":  # only dni_aux has an aux head to pool for
        ignored = ignored | {"engine.aux_pooling"}
    if branch:  # a branch may change any setting but those that define the stream it continues
        ignored = set(config) - BRANCH_FIXED
    core = task.build_core()
    engine = WindowEngine(core, task.build_head(core.output_size), engine_cfg, task.context_size).to(device)
    if topology.distributed:
        engine.distribute(device_ids=[device.index] if device.type == "cuda" else None)
    # Every rank carries the state of its own streams only.
    state = engine.initial_state(train_cfg.batch_size // topology.world_size, device)
    window, wall_before = 0, 0.0
    best = {"value": float("inf"), "stale": 0}
    restored = None
    if resume_from is not None:
        restored = restore(resume_from, config, ignored, engine, task, state, topology, local_windows, device, branch)
        state, window, wall_before, best = restored.state, restored.window, restored.wall_seconds, restored.best

    samples_per_window = train_cfg.horizon * train_cfg.batch_size
    total_windows = train_cfg.steps // train_cfg.horizon
    if train_cfg.steps % train_cfg.horizon:
        note(
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
    if restored is not None:
        restore_logger(restored.payload, logger, topology, device)
    if branch and window >= total_windows:
        raise ValueError(
            f"--branch-from {resume_from} is at window {window}: --steps must reach beyond its "
            f"{window * train_cfg.horizon} steps"
        )
    if not window or branch:
        logger.start_session(hyperparameters(config, task_class), train_cfg.task, task.key_charts)
    checkpointer = RunCheckpointer(
        checkpoint_path,
        config,
        engine,
        task,
        logger,
        topology,
        local_windows,
        wall_before,
        saved_window=window if resume_from is not None and not branch else None,
    )

    def checkpoint(path: Path = checkpoint_path) -> bool:
        return checkpointer.save(window, state, best, path)

    evaluate = Evaluator(task, engine, logger, run_dir, checkpoint, best)
    actor = Actor(engine.core, engine.head)
    progress = Progress(
        total_windows,
        window,
        samples_per_window * topology.world_size if local_windows else samples_per_window,
        train_cfg.run_name[:40],
        enabled=train_cfg.progress and topology.is_main,
    )
    latest: dict[str, float] = {}  # the last value of every scalar: what the task's progress figures read
    progress.show(task.progress(latest))
    with StopSignal() as stop:
        try:
            interrupted = False
            while window < total_windows:
                if train_cfg.lr_schedule != "constant":
                    engine.set_lr_factor(lr_factor(train_cfg.lr_schedule, train_cfg.lr_final, window, total_windows))
                batch, state = task.next_window(actor, state)
                state, metrics = engine.step(
                    batch if local_windows else shard_window(batch, topology, core.batch_first),
                    state,
                    collect_metrics=logs_window(window, train_cfg.log_every, total_windows),
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
                    latest.update(task_scalars)
                if window % train_cfg.log_every == 0:
                    latest.update(logger.flush_window_metrics(samples))
                # The trainer's evaluation policy: every --eval-every windows, and once, final, at the end.
                stop_early = False
                if train_cfg.eval_every and window % train_cfg.eval_every == 0 and window < total_windows:
                    latest.update(evaluate(samples))
                    stop_early = evaluate.out_of_patience(train_cfg.patience)
                if (
                    task_scalars
                    or window % train_cfg.log_every == 0
                    or (train_cfg.eval_every and window % train_cfg.eval_every == 0)
                ):
                    progress.show(task.progress(latest))
                if stop_early:
                    break
                if train_cfg.checkpoint_every and window % train_cfg.checkpoint_every == 0:
                    checkpoint()
                progress.advance()
                # The window is complete: stop here if any rank was signalled (one tiny all-reduce per window
                # when distributed, so every rank stops at the same boundary).
                if any_rank(stop.signum is not None, topology):
                    interrupted = window < total_windows
                    break
        except NonFiniteError as error:
            # The skipped updates never reached the weights, so the model saved now is the one from before the
            # fault, unless the weights themselves went non-finite: then the last finite checkpoint is kept.
            progress.close()
            saved = checkpoint() if checkpointer.saved_window != window else True
            logger.close()
            where = (
                f"weights from before the fault saved to {checkpoint_path}"
                if saved
                else f"{checkpoint_path} holds window {checkpointer.saved_window}"
                if checkpointer.saved_window is not None
                else "no checkpoint written"
            )
            raise NonFiniteError(f"{error}; {where}; {engine.skipped_windows} windows skipped in all") from None
        progress.close()
        if interrupted:
            if checkpointer.saved_window != window:
                checkpoint()
            barrier(topology)  # no rank leaves before rank 0 has written the checkpoint
            logger.close()
            raise RunInterrupted(
                f"interrupted at window {window} of {total_windows}; checkpoint saved to "
                f"{checkpoint_path}; continue with: {resume_command(command, train_cfg.run_name, topology)}"
            )
        samples = window * samples_per_window
        logger.flush_window_metrics(samples)
        final_eval = evaluate(samples, final=True)
        checkpoint()
        barrier(topology)
        summary = {
            "run_name": train_cfg.run_name,
            "task": train_cfg.task,
            "method": engine_cfg.method,
            "horizon": train_cfg.horizon,
            "seed": train_cfg.seed,
            "samples": samples,
            "windows": window,
            "skipped_windows": engine.skipped_windows,
            "wall_seconds": checkpointer.wall_seconds(),
            **final_eval,
            **({f"best_{task.best_metric}": best["value"]} if task.best_metric in final_eval else {}),
            **task.summary(),
        }
        logger.end_session(figures_of_merit(summary, task.figures_of_merit), samples)
        logger.close()
    if engine.skipped_windows:
        note(f"the NaN guard skipped {engine.skipped_windows} of {window} windows (no update from them)", topology)
    if topology.is_main:
        write_summary(run_dir, summary)
    return summary
