"""Reading a sweep's run directories back: identity, ``summary.json``, TensorBoard scalars.

A sweep directory (written by ``scripts/sweep.py``) holds one directory per run,
``<task>__<method>__T<T>__s<seed>/``, with TensorBoard event files and, once the run has finished,
``summary.json``; the sweep directory itself holds ``sweep.json`` (the grid and ``budget_samples``).
Any directory of run directories works (``sweep.json`` is then optional): a run is identified by its
``summary.json`` (``task``, ``method``, ``horizon``, ``seed``), or by its directory name while unfinished.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dni_rnn.run_directory import SUMMARY, parse_run_name, read_summary

TB_SIZE_GUIDANCE = {"scalars": 0, "tensors": 1, "histograms": 1, "images": 1, "audio": 1, "compressedHistograms": 1}


def _warn(message: str) -> None:
    print(f"report: {message}", file=sys.stderr)


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it, else absolute."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def load_scalars(run_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar tag of a run's event files as ``tag -> (steps, values)``, one value per step.

    A step written twice (a resumed run) keeps the later value.
    """
    if not any(Path(run_dir).glob("events.out.tfevents.*")):
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance=TB_SIZE_GUIDANCE)
    accumulator.Reload()
    out = {}
    for tag in accumulator.Tags().get("scalars", []):
        by_step = {}
        for event in accumulator.Scalars(tag):
            by_step[int(event.step)] = float(event.value)
        steps = np.array(sorted(by_step), dtype=np.int64)
        out[tag] = (steps, np.array([by_step[s] for s in steps], dtype=np.float64))
    return out


@dataclass
class Run:
    """One run directory of a sweep; ``summary`` is None while it has not finished."""

    path: Path
    sweep: "Sweep"
    task: str | None
    method: str | None
    horizon: int | None
    seed: int | None
    summary: dict | None
    _scalars: dict | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.summary is not None and self.task is not None

    @property
    def key(self) -> tuple:
        return self.task, self.method, self.horizon, self.seed

    @property
    def name(self) -> str:
        return _display_path(self.path)

    @property
    def variant(self) -> str:
        """The suffix of the directory's name after the seed (``--vary`` values, ``--variant``); '' without one."""
        parsed = parse_run_name(self.path.name)
        return parsed.variant if parsed is not None else ""

    def curve(self, tag: str) -> tuple[np.ndarray, np.ndarray] | None:
        if self._scalars is None:
            self._scalars = load_scalars(self.path)
        return self._scalars.get(tag)


@dataclass
class Sweep:
    path: Path
    name: str
    manifest: dict
    runs: list[Run]

    @property
    def budget_samples(self) -> int | None:
        return self.manifest.get("budget_samples")

    def expected(self) -> list[tuple]:
        """The grid of ``sweep.json`` as ``(task, method, horizon, seed)``; empty without one."""
        keys = ("tasks", "methods", "horizons", "seeds")
        if not all(k in self.manifest for k in keys):
            return []
        m = self.manifest
        return [(t, me, h, s) for t in m["tasks"] for me in m["methods"] for h in m["horizons"] for s in m["seeds"]]


def _identity(name: str, summary: dict | None) -> tuple:
    if summary is not None and all(k in summary for k in ("task", "method", "horizon", "seed")):
        return summary["task"], summary["method"], int(summary["horizon"]), int(summary["seed"])
    parsed = parse_run_name(name)
    if parsed is not None:
        return parsed.task, parsed.method, parsed.horizon, parsed.seed
    return None, None, None, None


def load_sweep(path) -> Sweep:
    """The runs of one sweep directory (every sub-directory with event files, a checkpoint or a summary)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"sweep directory {path} does not exist")
    manifest_path = path / "sweep.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    sweep = Sweep(path, manifest.get("name", path.name), manifest, [])
    for run_dir in sorted(p for p in path.iterdir() if p.is_dir()):
        summary_path = run_dir / SUMMARY
        if not (
            summary_path.is_file()
            or (run_dir / "checkpoint.pt").is_file()
            or any(run_dir.glob("events.out.tfevents.*"))
        ):
            continue
        summary = None
        if summary_path.is_file():
            try:
                summary = read_summary(run_dir)
            except json.JSONDecodeError as error:
                _warn(f"{summary_path}: unreadable ({error}); the run counts as unfinished")
        sweep.runs.append(Run(run_dir, sweep, *_identity(run_dir.name, summary), summary))
    return sweep


def load_sweeps(sweep_dirs) -> list[Sweep]:
    return [load_sweep(p) for p in sweep_dirs]


def finished_runs(sweeps: list[Sweep]) -> list[Run]:
    """The finished runs, one per ``(task, method, horizon, seed)``: a later sweep (or directory) wins."""
    chosen: dict[tuple, Run] = {}
    for sweep in sweeps:
        for run in sweep.runs:
            if not run.finished:
                continue
            if run.key in chosen:
                _warn(f"{run.name} repeats {chosen[run.key].name} ({run.key}); keeping {run.name}")
            chosen[run.key] = run
    return list(chosen.values())
