"""Evaluating a model: during a run (the trainer's policy, best.pt, early stopping) and from a checkpoint.

The trainer evaluates every ``--eval-every`` windows and once, ``final``, at the end. A task with a
``best_metric`` gets ``best.pt`` (the model with the lowest value so far) and ``--patience`` counts the
evaluations since it last improved. ``dni-rnn eval`` rebuilds a run from a checkpoint and calls the task's
:meth:`~dni_rnn.task.Task.report`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from dni_rnn.checkpoint import load_checkpoint
from dni_rnn.engine import EngineConfig, WindowEngine
from dni_rnn.run_config import split_config
from dni_rnn.task import EvalOptions, Task, evaluating, load_task
from dni_rnn.tensorboard_log import RunLogger
from dni_rnn.train_config import TrainConfig, resolve_device


class Evaluator:
    """Evaluates the run's model, logs the result and keeps ``best.pt``.

    Args:
        save_best: ``save_best(path)`` writes the run's checkpoint to ``path`` (``<run>/best.pt``).
        best: ``{"value": lowest best_metric so far, "stale": evaluations since it improved}``, checkpointed.
    """

    def __init__(
        self,
        task: Task,
        engine: WindowEngine,
        logger: RunLogger,
        run_dir: Path,
        save_best: Callable[[Path], bool],
        best: dict,
    ):
        self.task, self.engine, self.logger, self.run_dir = task, engine, logger, run_dir
        self.save_best = save_best
        self.best = best

    def __call__(self, samples: int, final: bool = False) -> dict[str, float]:
        """Evaluate, log at ``samples``, keep best.pt, count evaluations without improvement; returns the scalars."""
        engine, task, best = self.engine, self.task, self.best
        with evaluating(engine.core, engine.head):
            values = task.evaluate(engine.core, engine.head, final=final)
        self.logger.scalars(values, samples)
        if task.best_metric is not None and task.best_metric in values:
            if values[task.best_metric] < best["value"]:
                best["value"], best["stale"] = values[task.best_metric], 0
                self.save_best(self.run_dir / "best.pt")
            else:
                best["stale"] += 1
        return values

    def out_of_patience(self, patience: int) -> bool:
        return bool(patience) and self.best["stale"] >= patience


def load_run(path: str, task: str | None = None, device: str = "auto"):
    """Rebuild the task and the trained engine of a checkpoint (of ``task``, if given): ``(task, engine, payload)``.

    The task gets its saved state too (a curriculum's level, for instance), unless it was saved per rank."""
    payload = load_checkpoint(path)
    sections = split_config(payload["config"])
    if task is not None and sections["train"]["task"] != task:
        raise ValueError(f"checkpoint {path} is a {sections['train']['task']!r} run, not {task!r}")
    train_cfg = TrainConfig(**{**sections["train"], "device": device, "resume": None, "overwrite": False})
    engine_cfg = EngineConfig(**sections["engine"])
    task_class = load_task(train_cfg.task)
    # Only the task's options: the config also holds what the run derived (PTB's data_sha256).
    fields = {field.name for field in dataclasses.fields(task_class.Config) if field.init}
    options = task_class.Config(**{name: value for name, value in sections["task"].items() if name in fields})
    task_obj = task_class(options, train_cfg, resolve_device(device))
    core = task_obj.build_core()
    engine = WindowEngine(core, task_obj.build_head(core.output_size), engine_cfg, task_obj.context_size).to(
        resolve_device(device)
    )
    try:
        engine.load_state_dict(payload["engine"])
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path} does not match its own config ({str(error).splitlines()[0]})") from None
    task_state = payload.get("task")
    if isinstance(task_state, dict) and "ranks" not in task_state:
        task_obj.load_state_dict(task_state)
    return task_obj, engine, payload


def evaluate_checkpoint(
    path: str, task: str | None = None, device: str = "auto", options: EvalOptions | None = None
) -> dict:
    """Rebuild the task and model of a checkpoint (of ``task``, if given) and run the task's report on it."""
    task_obj, engine, payload = load_run(path, task, device)
    with evaluating(engine.core, engine.head):
        result = task_obj.report(engine.core, engine.head, options or EvalOptions())
    return {"checkpoint": str(path), "window": payload["window"], **result}
