"""What a task gives the trainer. Tasks live outside the library and plug in by entry point."""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import torch
from torch import nn

from dni_rnn.cores import make_core
from dni_rnn.engine import Window
from dni_rnn.state import State

TASK_GROUP = "dni_rnn.tasks"


@dataclass
class NoOptions:
    """A task without options of its own."""


class Task:
    """Base class of a task: a stream of :class:`~dni_rnn.engine.Window` plus a loss.

    The trainer calls, per window::

        window, state = task.next_window(engine, state)   # a task may act with the model (RL) or reset state
        state, metrics = engine.step(window, state)
        scalars = task.observe(metrics)                   # curriculum etc.; returns host floats to log

    Subclasses set ``Config`` (a dataclass of the task's own options), ``input_size`` and implement
    ``task_loss``, ``next_window``; the rest has defaults.

    Args:
        options: an instance of ``Config``.
        train: the :class:`~dni_rnn.training.TrainConfig` (horizon, batch size, cell...).
        device: where the stream's tensors are made.
    """

    Config: type = NoOptions
    input_size: int = 0
    context_size: int = 0
    """Width of ``Window.context`` / ``next_context``, what a conditioned M reads (cDNI); 0: none."""
    data_parallel: bool = True
    """Whether windows can be split over processes by stream (False for tasks that act with the model)."""
    best_metric: str | None = None
    """A key of ``evaluate()``'s result to minimise: the trainer keeps ``best.pt`` and stops early on it."""

    def __init__(self, options: Any, train: Any, device: torch.device):
        self.options = options
        self.train = train
        self.device = device
        self.generator = torch.Generator(device=device).manual_seed(train.seed)

    def build_core(self) -> nn.Module:
        return make_core(self.train.cell, self.input_size, self.train.hidden, self.train.layers)

    def task_loss(self, core_output_size: int) -> nn.Module:
        raise NotImplementedError

    def next_window(self, engine: nn.Module, state: State) -> tuple[Window, State]:
        raise NotImplementedError

    def observe(self, metrics: dict[str, torch.Tensor]) -> dict[str, float]:
        """Called after every window; may sync with the host only when it has something to decide."""
        return {}

    def evaluate(self, engine: nn.Module, final: bool = False) -> dict[str, float]:
        """Called every ``--eval-every`` windows and at the end (``final``); scalars to log (``charts/...``)."""
        return {}

    def summary(self) -> dict[str, float]:
        """The task's figures of merit at the end of a run."""
        return {}

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def available_tasks() -> dict[str, Any]:
    """Task name -> entry point, from the ``dni_rnn.tasks`` entry-point group."""
    return {ep.name: ep for ep in entry_points(group=TASK_GROUP)}


def load_task(name: str) -> type[Task]:
    tasks = available_tasks()
    if name not in tasks:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(sorted(tasks)) or '(none installed)'}")
    return tasks[name].load()
