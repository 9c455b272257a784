"""What a task gives the trainer, and the narrow handles it gets back. Tasks plug in by entry point."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Iterator

import torch
from torch import nn

from dni_rnn.config import check_fields, option
from dni_rnn.cores import make_core
from dni_rnn.engine import Window
from dni_rnn.head import Head
from dni_rnn.state import State
from dni_rnn.train_config import TrainConfig

TASK_GROUP = "dni_rnn.tasks"


@dataclass
class NoOptions:
    """A task without options of its own."""


@dataclass
class EvalOptions:
    """Options of ``dni-rnn eval``; each task reads those that concern it (every one is a ``--flag``)."""

    sequences: int = option(256, "copy, repeat_copy: sequences scored at each length.", low=1)
    beyond: int = option(4, "copy, repeat_copy: lengths scored beyond the N the run reached.", low=0)
    episodes: int = option(100, "rl: episodes to run (actions sampled from the policy, as in training).", low=1)
    seed: int = option(
        0, "Seed of the evaluation's own random numbers (sequences, environments).", low=0, high=2**32 - 1
    )

    def __post_init__(self):
        check_fields(self)


class Actor:
    """What an acting task (RL) may do with the model: run it forward on what it observes, without gradients.

    ``act(inputs [T, B, F], state, resets [T, B] or None) -> (head.predict(outputs), next_state)``; where
    ``resets[t, b]`` the core restores the initial state before step ``t`` (the rule of the cores).
    """

    def __init__(self, core: nn.Module, head: Head):
        self._core, self._head = core, head

    @property
    def dtype(self) -> torch.dtype:
        return next(self._core.parameters()).dtype

    def initial_state(self, batch_size: int, device: torch.device | None = None) -> State:
        return self._core.initial_state(batch_size, device, self.dtype)

    @torch.no_grad()
    def act(self, inputs: torch.Tensor, state: State, resets: torch.Tensor | None = None) -> tuple[Any, State]:
        outputs, state = self._core(inputs, state, resets)
        return self._head.predict(outputs), state


@contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """``modules`` in eval mode and no gradients inside; their training flags are restored after."""
    flags = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, flag in zip(modules, flags):
            module.train(flag)


class Task:
    """Base class of a task: a stream of :class:`~dni_rnn.engine.Window` and the model's head.

    The trainer builds ``core = task.build_core()``, ``head = task.build_head(core.output_size)`` and calls,
    per window::

        window, state = task.next_window(actor, state)     # actor: Actor(core, head), for tasks that act (RL)
        state, metrics = engine.step(window, state)         # the engine calls head.loss(outputs, window)
        metrics, private = split_private(metrics)           # dni_rnn.head.PRIVATE: the task's bookkeeping
        scalars = task.observe(metrics, private)            # curriculum etc.: floats to log now, Ratio to the logger
        progress.show(task.progress(latest))               # latest: the last value of every scalar

    and ``task.evaluate(core, head, final=...)`` every ``--eval-every`` windows and once, ``final``, at the end
    (in eval mode, without gradients).

    Subclasses set ``Config`` (a dataclass of the task's own options), ``input_size`` and implement
    ``build_head`` and ``next_window``; the rest has defaults.

    Args:
        options: an instance of ``Config``.
        run: the :class:`~dni_rnn.train_config.TrainConfig` (horizon, batch size, cell...), kept as ``self.run``.
        device: where the stream's tensors are made.
    """

    Config: type = NoOptions
    input_size: int = 0
    context_size: int = 0
    """Width of ``Window.context`` / ``next_context``, what a conditioned M reads (cDNI); 0: none."""
    data_parallel: bool = True
    """Whether windows can be split over processes by stream (False for tasks that act with the model)."""
    local_windows: bool = False
    """Under torchrun, whether every rank makes its own windows (its own streams and seed: RL)."""
    best_metric: str | None = None
    """A key of ``evaluate()``'s result to minimise: the trainer keeps ``best.pt`` and stops early on it."""
    resume_ignores: tuple[str, ...] = ()
    """Options that may change when resuming (e.g. a data path; ``data_checksum()`` then compares the data)."""
    figures_of_merit: tuple[str, ...] = ()
    """Keys of ``summary()`` that say how well the run did: the end-of-run report and the HParams metrics."""
    key_charts: tuple[str, ...] = ()
    """TensorBoard tags of the task's key curves: one chart each, of every run, in the custom-scalars layout."""

    def __init__(self, options: Any, run: TrainConfig, device: torch.device):
        self.options = options
        self.run = run
        self.device = device
        self.generator = torch.Generator(device=device).manual_seed(run.seed)

    def build_core(self) -> nn.Module:
        return make_core(
            self.run.cell,
            self.input_size,
            self.run.hidden,
            self.run.layers,
            chrono_steps=self.run.chrono_steps,
            reset_loop=self.run.reset_loop,
            sparse_init=self.run.sparse_init,
        )

    def build_head(self, core_output_size: int) -> Head:
        raise NotImplementedError

    def next_window(self, actor: Actor | None, state: State) -> tuple[Window, State]:
        raise NotImplementedError

    def observe(self, metrics: dict[str, torch.Tensor], private: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Called after every window with its metrics and the head's private bookkeeping; may sync with the
        host only when it has something to decide. Returns floats to log at this window and
        :class:`~dni_rnn.tensorboard_log.Ratio` values the logger combines until its next point."""
        return {}

    def progress(self, scalars: dict[str, float]) -> dict[str, str]:
        """What the progress bar shows (``{"N": "5"}``), from the last value of every scalar and the task's own
        state; called whenever the task reported scalars, at log points and after evaluations."""
        return {"task": f"{scalars['losses/task']:.3g}"} if "losses/task" in scalars else {}

    def evaluate(self, core: nn.Module, head: Head, *, final: bool) -> dict[str, float]:
        """Scalars to log (``charts/...``). ``final``: the run's one last evaluation (may cost more)."""
        return {}

    def summary(self) -> dict[str, Any]:
        """The task's figures of merit at the end of a run."""
        return {}

    def report(self, core: nn.Module, head: Head, options: EvalOptions) -> dict[str, Any]:
        """``dni-rnn eval``: what the trained model (from a checkpoint, task state restored) achieves. Called in
        eval mode without gradients; default: the final evaluation."""
        return self.evaluate(core, head, final=True)

    @classmethod
    def format_report(cls, result: dict[str, Any]) -> str:
        """``report()``'s result for people (printed on stderr beside the JSON); default: one line per value."""
        return "\n".join(
            f"  {key}: {value}"
            for key, value in result.items()
            if key not in ("checkpoint", "window") and not isinstance(value, (dict, list))
        )

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def available_tasks() -> dict[str, EntryPoint]:
    """Task name -> entry point, from the ``dni_rnn.tasks`` entry-point group."""
    return {ep.name: ep for ep in entry_points(group=TASK_GROUP)}


def load_task(name: str) -> type[Task]:
    tasks = available_tasks()
    if name not in tasks:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(sorted(tasks)) or '(none installed)'}")
    return tasks[name].load()
