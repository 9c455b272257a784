"""The end of a run: its summary (``summary.json``), its figures of merit, and a short block for people.

The block names the figures of merit, where the run is and the exact command that opens TensorBoard on it
and its neighbours::

    dni-rnn: finished copy__dni__T4__s0__1718000000: 25,600,000 samples in 95 s (270k samples/s)
      max_length       5
      run directory    logs/copy__dni__T4__s0__1718000000  (config.json, summary.json, checkpoint.pt)
      TensorBoard      tensorboard --logdir logs
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

from dni_rnn.progress import format_rate


def figures_of_merit(summary: dict[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    """The task's figures of merit (``names``, those present and numeric), its best validation value, then the
    run's samples and wall seconds: the HParams metrics and the lines of the report."""
    figures = {name: summary[name] for name in names if isinstance(summary.get(name), (int, float))}
    figures.update({key: value for key, value in summary.items() if key.startswith("best_")})
    figures["samples"] = summary["samples"]
    figures["wall_seconds"] = summary["wall_seconds"]
    return {name: float(value) for name, value in figures.items()}


def tensorboard_command(logdir: str | Path) -> str:
    return shlex.join(["tensorboard", "--logdir", str(logdir)])


def _format(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:g}" if value != int(value) else f"{int(value)}"


def format_report(summary: dict[str, Any], figures: dict[str, float], run_dir: Path, logdir: str | Path) -> str:
    """The human-readable block printed when a run finishes."""
    seconds = summary["wall_seconds"]
    rate = summary["samples"] / seconds if seconds > 0 else math.nan
    lines = [
        f"dni-rnn: finished {summary['run_name']}: {summary['samples']:,} samples in {seconds:.0f} s "
        f"({format_rate(rate)} samples/s)"
    ]
    shown = {name: value for name, value in figures.items() if name not in ("samples", "wall_seconds")}
    width = max([len(name) for name in shown] + [len("skipped windows")]) + 2
    lines += [f"  {name:<{width}}{_format(value)}" for name, value in shown.items()]
    if summary.get("skipped_windows"):
        lines.append(f"  {'skipped windows':<{width}}{summary['skipped_windows']} (NaN guard)")
    files = ", ".join(
        name for name in ("config.json", "summary.json", "checkpoint.pt", "best.pt") if (run_dir / name).is_file()
    )
    lines.append(f"  {'run directory':<{width}}{run_dir}" + (f"  ({files})" if files else ""))
    lines.append(f"  {'TensorBoard':<{width}}{tensorboard_command(logdir)}")
    return "\n".join(lines)
