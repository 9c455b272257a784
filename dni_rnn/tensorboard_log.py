"""TensorBoard logging of a run: hyperparameters once as text, scalars with ``charts/`` and ``losses/`` prefixes.

The x-axis of every scalar is *samples seen*: time steps consumed times the batch size (characters
for PTB, environment steps for RL), so that runs with different horizons line up. docs/METRICS.md
defines every tag.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter

from dni_rnn.tensorboard_hparams import write_layout, write_session_end, write_session_start


def markdown_table(config: dict) -> str:
    rows = "\n".join(f"|{key}|{json.dumps(value)}|" for key, value in config.items())
    return f"|param|value|\n|-|-|\n{rows}"


class Ratio(NamedTuple):
    """A scalar logged as ``sum(numerator) / sum(denominator)`` over the windows since the last log point
    (e.g. the mean return of the episodes that ended: returns summed over episode counts). Not logged when
    the denominator sums to 0."""

    numerator: Tensor
    denominator: Tensor


class RunLogger:
    """Averages window metrics between log points and writes them (plus throughput) to TensorBoard.

    Each tag is averaged over the windows that reported it (a probe result, which comes every ``k``
    windows, is not diluted by the windows without one); a :class:`Ratio` is summed, numerator and
    denominator apart, and logged as their quotient.

    Metrics are device tensors; they are summed on the device and read once per log point, so logging
    costs one host sync every ``log_every`` windows.

    Args:
        logdir: ``logs/<run-name>`` directory of the event files.
        config: every setting of the run, written once as a Markdown table under ``hyperparameters``.
        purge_step: on resume, the samples-seen count of the checkpoint: TensorBoard drops events the
            interrupted run wrote after it, so no step appears twice.
        enabled: False on the non-zero ranks of a multi-process run.
        sum_ratios: sums the ``[2, n]`` stacked numerators and denominators over processes at a log point
            (a collective: every rank flushes at the same windows). Default: none, one process.
    """

    def __init__(
        self,
        logdir: str,
        config: dict,
        purge_step: int | None = None,
        enabled: bool = True,
        sum_ratios: Callable[[Tensor], Tensor] | None = None,
    ):
        self.writer = SummaryWriter(logdir, purge_step=purge_step) if enabled else None
        if self.writer is not None and purge_step is None:
            self.writer.add_text("hyperparameters", markdown_table(config))
        self.sum_ratios = sum_ratios
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}  # per tag: the probe's metrics come only every k windows
        self._ratios: dict[str, tuple[Tensor, Tensor]] = {}
        self._clock = time.perf_counter()
        self._samples_at_clock: int | None = None

    def accumulate(self, metrics: dict[str, Tensor | Ratio]) -> None:
        for tag, value in metrics.items():
            if isinstance(value, Ratio):
                numerator, denominator = value.numerator.detach().float(), value.denominator.detach().float()
                if tag in self._ratios:
                    numerator, denominator = self._ratios[tag][0] + numerator, self._ratios[tag][1] + denominator
                else:
                    numerator, denominator = numerator.clone(), denominator.clone()
                self._ratios[tag] = (numerator, denominator)
                continue
            value = value.detach().float()
            self._sums[tag] = self._sums[tag] + value if tag in self._sums else value.clone()
            self._counts[tag] = self._counts.get(tag, 0) + 1

    def flush_window_metrics(self, samples: int) -> dict[str, float]:
        """Write the averages and ratios since the last call and the throughput; returns them as floats."""
        values = {tag: float(total) / self._counts[tag] for tag, total in self._sums.items()}
        if self._ratios:
            tags = sorted(self._ratios)
            parts = torch.stack([torch.stack(self._ratios[tag]) for tag in tags], dim=1)  # (2, n)
            if self.sum_ratios is not None:
                parts = self.sum_ratios(parts)
            for tag, (numerator, denominator) in zip(tags, parts.t().tolist()):
                if denominator != 0:
                    values[tag] = numerator / denominator
        self._sums, self._counts, self._ratios = {}, {}, {}
        if not values:
            return {}
        now = time.perf_counter()
        if self._samples_at_clock is not None and now > self._clock:
            values["charts/steps_per_second"] = (samples - self._samples_at_clock) / (now - self._clock)
        self._clock, self._samples_at_clock = now, samples
        self.scalars(values, samples)
        return values

    def scalars(self, values: dict[str, float], samples: int) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, samples)

    def state_dict(self) -> dict:
        """The sums since the last log point, so that a resumed run logs what an uninterrupted one would."""
        return {"sums": dict(self._sums), "counts": dict(self._counts), "ratios": dict(self._ratios)}

    def load_state_dict(self, state: dict, device: torch.device | None = None) -> None:
        self._sums = {tag: value.to(device) for tag, value in state["sums"].items()}
        self._counts = dict(state["counts"])
        self._ratios = {tag: (n.to(device), d.to(device)) for tag, (n, d) in state["ratios"].items()}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def start_session(self, hyperparameters: dict, task: str, key_charts: tuple[str, ...]) -> None:
        """A fresh run's row of the HParams table and its custom-scalars layout (see :mod:`tensorboard_hparams`)."""
        if self.writer is not None:
            write_session_start(self.writer, hyperparameters)
            write_layout(self.writer, task, key_charts)

    def end_session(self, figures: dict[str, float], samples: int) -> None:
        """A finished run's figures of merit (``hparams/<name>``) and the end of its HParams session."""
        if self.writer is not None:
            write_session_end(self.writer, figures, samples)
