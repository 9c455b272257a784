"""TensorBoard logging of a run: hyperparameters once as text, scalars with ``charts/`` and ``losses/`` prefixes.

The x-axis of every scalar is *samples seen*: time steps consumed times the batch size (characters
for PTB, environment steps for RL), so that runs with different horizons line up. docs/METRICS.md
defines every tag.
"""
from __future__ import annotations

import json
import time

import torch
from torch.utils.tensorboard import SummaryWriter


def markdown_table(config: dict) -> str:
    rows = "\n".join(f"|{key}|{json.dumps(value)}|" for key, value in config.items())
    return f"|param|value|\n|-|-|\n{rows}"


class RunLogger:
    """Averages window metrics between log points and writes them (plus throughput) to TensorBoard.

    Each tag is averaged over the windows that reported it (a probe result, which comes every ``k``
    windows, is not diluted by the windows without one).

    Metrics are device tensors; they are summed on the device and read once per log point, so logging
    costs one host sync every ``log_every`` windows. Only tags with a ``/`` are logged: others are a
    task's private bookkeeping.

    Args:
        logdir: ``logs/<run-name>`` directory of the event files.
        config: every setting of the run, written once as a Markdown table under ``hyperparameters``.
        purge_step: on resume, the samples-seen count of the checkpoint: TensorBoard drops events the
            interrupted run wrote after it, so no step appears twice.
        enabled: False on the non-zero ranks of a multi-process run.
    """

    def __init__(self, logdir: str, config: dict, purge_step: int | None = None, enabled: bool = True):
        self.writer = SummaryWriter(logdir, purge_step=purge_step) if enabled else None
        if self.writer is not None and purge_step is None:
            self.writer.add_text("hyperparameters", markdown_table(config))
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}  # per tag: the probe's metrics come only every k windows
        self._clock = time.perf_counter()
        self._samples_at_clock: int | None = None

    def accumulate(self, metrics: dict[str, torch.Tensor]) -> None:
        for tag, value in metrics.items():
            if "/" in tag:
                value = value.detach().float()
                self._sums[tag] = self._sums[tag] + value if tag in self._sums else value.clone()
                self._counts[tag] = self._counts.get(tag, 0) + 1

    def flush_window_metrics(self, samples: int) -> dict[str, float]:
        """Write the averages since the last call and the throughput; returns them as floats."""
        if not self._counts:
            return {}
        values = {tag: float(total) / self._counts[tag] for tag, total in self._sums.items()}
        now = time.perf_counter()
        if self._samples_at_clock is not None and now > self._clock:
            values["charts/steps_per_second"] = (samples - self._samples_at_clock) / (now - self._clock)
        self._clock, self._samples_at_clock = now, samples
        self.scalars(values, samples)
        self._sums, self._counts = {}, {}
        return values

    def scalars(self, values: dict[str, float], samples: int) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, samples)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
