"""TensorBoard's HParams dashboard and a custom-scalars layout, written into each run's own folder.

HParams: a run writes its hyperparameters as a session-start record when it starts (so a live run is in the
table too), and when it finishes its figures of merit as scalars ``hparams/<name>`` plus a session-end record.
No run writes an experiment record: TensorBoard then builds one table from the session records of every run
under ``--logdir`` (the union of their hyperparameters), so ``tensorboard --logdir logs/<sweep>`` compares all
runs of a sweep, of one task or several. Its metric columns are the last value of every scalar tag of a run:
the ``hparams/...`` figures of merit, and the ``charts/...`` and ``losses/...`` curves at their last point.

Custom scalars: a layout with one chart per key metric (the task's ``key_charts`` and the synthetic-gradient
quality), each plotting that tag of every run; TensorBoard merges the layouts of all runs by category title.
"""

from __future__ import annotations

import json
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

HPARAMS_PREFIX = "hparams/"
# Charts of every method and task: how good the synthetic gradient is, the task loss, the throughput.
COMMON_CHARTS = ("losses/task", "charts/sg_cosine", "charts/sg_online_cosine", "charts/steps_per_second")


def hparam_value(value: Any) -> bool | int | float | str:
    """A setting as the HParams plugin stores it: numbers and booleans as they are, anything else as text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return "None" if value is None else json.dumps(value)


def write_session_start(writer: SummaryWriter, hyperparameters: dict[str, Any]) -> None:
    """The run's row of the HParams table: its hyperparameters (``section.name`` keys, as in the config)."""
    _, start, _ = hparams({name: hparam_value(value) for name, value in hyperparameters.items()}, {})
    writer.file_writer.add_summary(start, 0)


def write_session_end(writer: SummaryWriter, figures: dict[str, float], step: int) -> None:
    """The run's figures of merit (``hparams/<name>`` scalars at ``step``) and the session's end (success)."""
    for name, value in figures.items():
        writer.add_scalar(HPARAMS_PREFIX + name, value, step)
    _, _, end = hparams({}, {})  # torch builds the session end with STATUS_SUCCESS
    writer.file_writer.add_summary(end, step)


def custom_scalars_layout(task: str, key_charts: tuple[str, ...]) -> dict:
    """``{category: {chart title: ["Multiline", [regex]]}}``: the task's key charts, then the common ones."""
    return {
        f"{task}: key metrics, every run": {tag: ["Multiline", [f"^{tag}$"]] for tag in key_charts},
        "dni_rnn: every run": {tag: ["Multiline", [f"^{tag}$"]] for tag in COMMON_CHARTS},
    }


def write_layout(writer: SummaryWriter, task: str, key_charts: tuple[str, ...]) -> None:
    writer.add_custom_scalars(custom_scalars_layout(task, key_charts))
