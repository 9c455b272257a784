"""The run directory format, in one place: run names and ``summary.json``.

A run writes ``<logdir>/<run-name>/`` with TensorBoard event files, ``checkpoint.pt`` (``best.pt`` for tasks that
evaluate) and, once finished, ``summary.json``. A run name is ``<task>__<method>__T<T>__s<seed>`` followed by
an optional ``__<variant>``: the trainer's default names end in the start time, ``scripts/sweep.py`` puts the
``--vary`` values and the ``--variant`` name there (``copy__dni__T3__s0__best``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

from dni_rnn.checkpoint import atomic_write_text

SUMMARY = "summary.json"
RUN_NAME = re.compile(r"^(?P<task>.+?)__(?P<method>.+?)__T(?P<horizon>\d+)__s(?P<seed>\d+)(?:__(?P<variant>.+))?$")


class RunName(NamedTuple):
    task: str
    method: str
    horizon: int
    seed: int
    variant: str = ""


def format_run_name(task: str, method: str, horizon: int, seed: int, variant: str = "") -> str:
    """``copy__dni__T4__s0`` (``copy__dni__T4__s0__<variant>`` with a variant)."""
    return f"{task}__{method}__T{horizon}__s{seed}" + (f"__{variant}" if variant else "")


def parse_run_name(name: str) -> RunName | None:
    """The parts of a run name (``variant`` is '' when absent), or None for a name of another form."""
    match = RUN_NAME.match(name)
    if match is None:
        return None
    return RunName(match["task"], match["method"], int(match["horizon"]), int(match["seed"]), match["variant"] or "")


def is_finished(run_dir: Path) -> bool:
    """Whether the run has written its summary."""
    return (Path(run_dir) / SUMMARY).is_file()


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json`` atomically: it is the "finished" marker sweeps read, never half-written."""
    atomic_write_text(Path(run_dir) / SUMMARY, json.dumps(summary, indent=2))


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary, None while it has none. Raises ``json.JSONDecodeError`` for an unreadable one."""
    path = Path(run_dir) / SUMMARY
    if not path.is_file():
        return None
    return json.loads(path.read_text())
