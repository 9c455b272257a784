"""The progress of a run on stderr: a bar on a terminal, plain lines otherwise.

Both show the window count, samples per second and what the task says about itself (``Task.progress``:
copy's N and R, PTB's last valid BPC, RL's recent return), updated whenever one of those changes. When
stderr is not a terminal (a log file, a cluster job, a pipe) carriage-return updates would pile up, so a
plain line is printed every ``every_percent`` percent of the run instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


def format_rate(samples_per_second: float) -> str:
    return f"{samples_per_second / 1000:.1f}k" if samples_per_second >= 10_000 else f"{samples_per_second:.0f}"


class Progress:
    """Progress of ``total`` windows of ``samples_per_window`` samples, from window ``initial``.

    Args:
        enabled: False shows nothing (``--no-progress``, the non-zero ranks of a multi-process run).
        stream: where it writes (stderr).
        interactive: a bar with carriage returns; default: whether ``stream`` is a terminal.
        every_percent: without a terminal, a line every this many percent of the run (and at its end).
    """

    def __init__(
        self,
        total: int,
        initial: int,
        samples_per_window: int,
        desc: str,
        enabled: bool = True,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        every_percent: float = 5.0,
    ):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.window, self.samples_per_window, self.desc = total, initial, samples_per_window, desc
        self.enabled = enabled
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.every = max(1, round(total * every_percent / 100))
        self.shown: dict[str, str] = {}
        self._start_window, self._start_time = initial, time.perf_counter()
        self._bar = None
        if enabled and self.interactive:
            self._bar = tqdm(
                total=total, initial=initial, unit="win", dynamic_ncols=True, desc=desc, file=self.stream, leave=True
            )

    def samples_per_second(self) -> float:
        elapsed = time.perf_counter() - self._start_time
        return (self.window - self._start_window) * self.samples_per_window / elapsed if elapsed > 0 else 0.0

    def postfix(self) -> dict[str, str]:
        """What is shown besides the count: the task's figures, then samples per second."""
        return {**self.shown, "samples/s": format_rate(self.samples_per_second())}

    def show(self, task_figures: dict[str, str]) -> None:
        """The task's figures (``{"N": "5"}``); the bar is redrawn only when they changed."""
        if task_figures == self.shown:
            return
        self.shown = dict(task_figures)
        if self._bar is not None:
            self._bar.set_postfix(self.postfix(), refresh=True)

    def line(self) -> str:
        percent = 100 * self.window / self.total if self.total else 100.0
        figures = " ".join(f"{name}={value}" for name, value in self.postfix().items())
        return f"{self.desc}: window {self.window}/{self.total} ({percent:.0f}%) {figures}"

    def advance(self, windows: int = 1) -> None:
        self.window += windows
        if not self.enabled:
            return
        if self._bar is not None:
            if self.window % 50 == 0:  # samples/s moves every window: refresh it now and then, not every window
                self._bar.set_postfix(self.postfix(), refresh=False)
            self._bar.update(windows)
        elif self.window % self.every == 0 or self.window == self.total:
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
