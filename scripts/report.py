"""Report one or more sweeps: results JSON per task, a Markdown page with tables, and PNG figures.

    python -m scripts.report --sweep logs/table1 [--sweep logs/ptb ...] --results results \
        --figures docs/figures --markdown docs/results_table1.md

A sweep directory (written by ``scripts/sweep.py``) holds one directory per run,
``<task>__<method>__T<T>__s<seed>/``, with TensorBoard event files and, once the run has finished,
``summary.json``; the sweep directory itself holds ``sweep.json`` (the grid and ``budget_samples``).
Any directory of run directories works (``sweep.json`` is then optional): a run is identified by its
``summary.json`` (``task``, ``method``, ``horizon``, ``seed``), or by its directory name while unfinished.

Outputs:

* ``<results>/<task>.json``: a JSON list, one record per finished run and metric, with the keys
  ``task, method, horizon, seed, budget_samples, metric, value, samples, wall_seconds, run``.
  Metrics: ``max_length`` (copy, repeat_copy), ``max_repeats`` (repeat_copy), ``bpc_valid``,
  ``bpc_test`` and ``chars_to_bptt40`` (ptb). An existing file is merged: records of the sweeps being
  reported, and records with the same ``(task, method, horizon, seed, metric)`` as a new one, are
  replaced; the others are kept, so several sweeps can feed one file.
* a Markdown page (also printed to stdout): the sweeps (budget, seeds, run time), Table 1 of the paper
  for copy / repeat copy (cells ``mean ± std (n)`` over seeds, the paper's numbers and the dni/bptt
  ratio per T), the PTB table, the figures, and the runs that have not finished (left out of tables).
* PNG figures: ``<task>_curriculum.png`` (and ``repeat_copy_curriculum_repeats.png``),
  ``<task>_final_vs_T.png``, ``<task>_sg_cosine.png`` (when the probe was on), ``ptb_bpc_valid.png``.

``chars_to_bptt40`` is the number of characters a PTB run had seen at the first evaluation whose valid
BPC (``charts/bpc_valid``) was at most the final valid BPC of the BPTT T=40 run of the same seed (the mean
over the BPTT T=40 seeds when that seed has none); runs that never got there have no record. Only full
validation passes count (``charts/bpc_valid_subset`` of ``--eval-limit`` runs is not comparable).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ----- the paper's numbers (SPEC section 4) ---------------------------------------------------------

PAPER_TABLE1 = {  # largest sequence length reached, Jaderberg et al. 2016, Table 1
    "copy": {"bptt": {2: 7, 3: 8, 4: 10, 5: 8}, "dni": {2: 16, 3: 14, 4: 18, 5: 18}},
    "repeat_copy": {"bptt": {2: 7, 3: 5, 4: 19, 5: 23}, "dni": {2: 39, 3: 33, 4: 39, 5: 59}},
}
PAPER_PTB_BPC = {("bptt", 8): 1.354, ("bptt", 20): 1.349, ("bptt", 40): 1.344, ("dni", 8): 1.34}
PAPER_PTB_DATA_SAVING = {("dni", 8): 2.3}  # "reaching BPTT T=40's final value with roughly 2.3x less data"

COPY_TASKS = ("copy", "repeat_copy")
TASK_METRICS = {"copy": ("max_length",), "repeat_copy": ("max_length", "max_repeats"),
                "ptb": ("bpc_valid", "bpc_test", "chars_to_bptt40")}
TASK_LABELS = {"copy": "Copy", "repeat_copy": "Repeat copy", "ptb": "Penn Treebank (characters)"}
METRIC_LABELS = {"max_length": "largest length N", "max_repeats": "largest repeats R"}
METHOD_ORDER = ("bptt", "dni", "dni_aux")
METHOD_COLORS = {"bptt": "tab:blue", "dni": "tab:orange", "dni_aux": "tab:green"}
METHOD_CMAPS = {"bptt": "Blues", "dni": "Oranges", "dni_aux": "Greens"}
EXTRA_COLORS = ("tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
PTB_REFERENCE = ("bptt", 40)
RECORD_KEY = ("task", "method", "horizon", "seed", "metric")
RUN_NAME = re.compile(r"^(?P<task>.+?)__(?P<method>.+?)__T(?P<horizon>\d+)__s(?P<seed>\d+)$")
TB_SIZE_GUIDANCE = {"scalars": 0, "tensors": 1, "histograms": 1, "images": 1, "audio": 1,
                    "compressedHistograms": 1}


def _warn(message: str) -> None:
    print(f"report: {message}", file=sys.stderr)


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it, else absolute."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def _method_key(method: str):
    return (METHOD_ORDER.index(method), "") if method in METHOD_ORDER else (len(METHOD_ORDER), method)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ----- runs and sweeps -----------------------------------------------------------------------------

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
    match = RUN_NAME.match(name)
    if match:
        return match["task"], match["method"], int(match["horizon"]), int(match["seed"])
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
        summary_path = run_dir / "summary.json"
        if not (summary_path.is_file() or (run_dir / "checkpoint.pt").is_file()
                or any(run_dir.glob("events.out.tfevents.*"))):
            continue
        summary = None
        if summary_path.is_file():
            try:
                summary = json.loads(summary_path.read_text())
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


# ----- records -------------------------------------------------------------------------------------

def _record(run: Run, metric: str, value) -> dict:
    return {
        "task": run.task, "method": run.method, "horizon": run.horizon, "seed": run.seed,
        "budget_samples": run.sweep.budget_samples, "metric": metric, "value": value,
        "samples": run.summary.get("samples"), "wall_seconds": run.summary.get("wall_seconds"), "run": run.name,
    }


def _summary_value(summary: dict, metric: str):
    for key in (metric, f"charts/{metric}"):
        if _finite(summary.get(key)):
            return summary[key]
    return None


def final_bpc_valid(run: Run) -> float | None:
    """The run's final valid BPC: its summary's, else the last point of its ``charts/bpc_valid`` curve."""
    value = _summary_value(run.summary, "bpc_valid")
    if value is None:
        curve = run.curve("charts/bpc_valid")
        if curve is not None and len(curve[0]):
            value = float(curve[1][-1])
    return value


def first_reach(curve: tuple[np.ndarray, np.ndarray] | None, target: float) -> int | None:
    """Step of the first point at or below ``target`` (compared in float32, TensorBoard's precision)."""
    if curve is None:
        return None
    steps, values = curve
    hits = np.nonzero(values.astype(np.float32) <= np.float32(target))[0]
    return int(steps[hits[0]]) if len(hits) else None


def ptb_targets(runs: list[Run]) -> tuple[dict[int, float], float | None]:
    """Final valid BPC of the BPTT T=40 runs per seed, and their mean."""
    per_seed = {}
    for run in runs:
        if run.task == "ptb" and (run.method, run.horizon) == PTB_REFERENCE:
            value = final_bpc_valid(run)
            if value is not None:
                per_seed[run.seed] = value
    return per_seed, (float(np.mean(list(per_seed.values()))) if per_seed else None)


def run_records(runs: list[Run]) -> list[dict]:
    """Records of finished runs (see the module docstring), sorted."""
    records = []
    targets, mean_target = ptb_targets(runs)
    for run in runs:
        if not run.finished or run.task not in TASK_METRICS:
            continue
        for metric in TASK_METRICS[run.task]:
            if metric == "chars_to_bptt40":
                target = targets.get(run.seed, mean_target)
                chars = first_reach(run.curve("charts/bpc_valid"), target) if target is not None else None
                if chars is not None:
                    records.append(_record(run, metric, chars))
                continue
            value = _summary_value(run.summary, metric)
            if value is not None:
                records.append(_record(run, metric, value))
    return sort_records(records)


def sort_records(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: (r["task"], _method_key(r["method"]), r["horizon"], r["seed"],
                                          r["metric"], r["run"]))


def collect(sweep_dirs) -> list[dict]:
    """Records of the finished runs of ``sweep_dirs`` (a later sweep wins a repeated run)."""
    return run_records(finished_runs(load_sweeps(sweep_dirs)))


def merge_records(old: list[dict], new: list[dict], sweep_dirs) -> list[dict]:
    """``old`` without records of the sweeps in ``sweep_dirs`` or with the key of a new record, plus ``new``."""
    reported = {Path(p).resolve() for p in sweep_dirs}
    new_keys = {tuple(r[k] for k in RECORD_KEY) for r in new}
    kept = [r for r in old
            if tuple(r.get(k) for k in RECORD_KEY) not in new_keys
            and Path(str(r.get("run", ""))).resolve().parent not in reported]
    return sort_records(kept + new)


def write_results(records: list[dict], results_dir, sweep_dirs) -> list[Path]:
    """``<results_dir>/<task>.json`` for every task of ``records``, merged with what is there."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for task in sorted({r["task"] for r in records}):
        path = results_dir / f"{task}.json"
        old = json.loads(path.read_text()) if path.is_file() else []
        merged = merge_records(old, [r for r in records if r["task"] == task], sweep_dirs)
        path.write_text(json.dumps(merged, indent=1) + "\n")
        written.append(path)
    return written


# ----- statistics and formatting --------------------------------------------------------------------

def group_values(records: list[dict]) -> dict[tuple, list[float]]:
    """``(task, method, horizon, metric) -> values over seeds``."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        groups.setdefault((r["task"], r["method"], r["horizon"], r["metric"]), []).append(r["value"])
    return groups


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def fmt_stat(values, fmt=lambda v: f"{v:.1f}", n_total: int | None = None) -> str:
    """``mean ± std (n)``; ``(k/n)`` when only ``k`` of ``n`` runs have a value."""
    if not values:
        return "–" if not n_total else f"– (0/{n_total})"
    mean, std = mean_std(values)
    count = f"{len(values)}/{n_total}" if n_total and n_total != len(values) else f"{len(values)}"
    if len(values) == 1:
        return f"{fmt(mean)} ({count})"
    return f"{fmt(mean)} ± {fmt(std)} ({count})"


def chars_formatter(values) -> callable:
    """A formatter of character counts in one unit (k, M or G) chosen from the largest of ``values``."""
    top = max((abs(v) for v in values), default=0.0)
    scale, unit = next(((s, u) for s, u in ((1e9, "G"), (1e6, "M"), (1e3, "k")) if top >= s), (1.0, ""))
    return lambda v: f"{v / scale:.2f}{unit}" if unit else f"{v:.0f}"


def fmt_hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds:.0f} s"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ----- Markdown ------------------------------------------------------------------------------------

def sweeps_section(sweeps: list[Sweep], runs: list[Run]) -> str:
    rows, total = [], 0.0
    for sweep in sweeps:
        finished = [r for r in sweep.runs if r.finished]
        seconds = sum(float(r.summary.get("wall_seconds") or 0.0) for r in finished)
        total += seconds
        m = sweep.manifest
        seeds = sorted({r.seed for r in finished if r.seed is not None}) if "seeds" not in m else m["seeds"]
        grid = sweep.expected()
        budget = sweep.budget_samples
        rows.append([
            f"`{_display_path(sweep.path)}`",
            ", ".join(m.get("tasks", sorted({r.task for r in finished if r.task}))),
            ", ".join(m.get("methods", sorted({r.method for r in finished if r.method}, key=_method_key))),
            ", ".join(str(h) for h in m.get("horizons", sorted({r.horizon for r in finished if r.horizon}))),
            ", ".join(str(s) for s in seeds),
            f"{budget:,}" if budget is not None else "–",
            str(m.get("batch_size", "–")),
            " ".join(m.get("extra", [])) or "–",
            f"{len(finished)} / {len(sweep.runs) + len(set(grid) - {r.key for r in sweep.runs})}",
            fmt_hours(seconds),
        ])
    header = ["sweep", "tasks", "methods", "T", "seeds", "budget (samples per run)", "batch", "extra flags",
              "finished / runs", "run time (sum over runs)"]
    text = "## Sweeps\n\n" + md_table(header, rows)
    text += (f"\n\nTotal run time of the finished runs: {fmt_hours(total)} (summed over runs; runs of a sweep "
             f"run `--jobs` at a time). Samples are time steps x batch (characters for PTB).")
    return text


def table1_section(records: list[dict], runs: list[Run]) -> str | None:
    tasks = [t for t in COPY_TASKS if any(r["task"] == t for r in records)]
    if not tasks:
        return None
    groups = group_values(records)
    columns = sorted({(r["method"], r["horizon"]) for r in records if r["task"] in tasks}
                     | {(m, h) for t in tasks for m, by_h in PAPER_TABLE1[t].items() for h in by_h},
                     key=lambda c: (_method_key(c[0]), c[1]))
    n_runs = {}
    for run in runs:
        if run.task in tasks:
            n_runs[(run.task, run.method, run.horizon)] = n_runs.get((run.task, run.method, run.horizon), 0) + 1
    header = ["task", "row"] + [f"{m} T={h}" for m, h in columns]
    rows = []
    for task in tasks:
        label = TASK_LABELS[task]
        for metric in TASK_METRICS[task]:
            rows.append([label, f"{METRIC_LABELS[metric]} (ours)"] + [
                fmt_stat(groups.get((task, m, h, metric), []), n_total=n_runs.get((task, m, h)))
                for m, h in columns])
        paper = PAPER_TABLE1[task]
        rows.append([label, "largest length N (paper)"] + [
            str(paper[m][h]) if h in paper.get(m, {}) else "–" for m, h in columns])

        def ratio(m, h):
            base = groups.get((task, "bptt", h, "max_length"))
            mine = groups.get((task, m, h, "max_length"))
            if m == "bptt" or not base or not mine or np.mean(base) == 0:
                return "–"
            return f"{np.mean(mine) / np.mean(base):.2f}x"

        def paper_ratio(m, h):
            if m == "bptt" or h not in paper.get(m, {}) or h not in paper["bptt"]:
                return "–"
            return f"{paper[m][h] / paper['bptt'][h]:.2f}x"

        rows.append([label, "method / bptt, N (ours)"] + [ratio(m, h) for m, h in columns])
        rows.append([label, "method / bptt, N (paper)"] + [paper_ratio(m, h) for m, h in columns])
    text = ("## Copy and repeat copy (the layout of the paper's Table 1)\n\n"
            "Largest sequence length N the curriculum reached by the end of the run (higher is better); for "
            "repeat copy also the largest repeat count R. Cells: mean ± sample std over seeds (n seeds, or "
            "k/n when k of n finished runs have the metric). \"paper\": Jaderberg et al. 2016, Table 1 "
            "(BPTT and DNI at T = 2..5). Ratio rows: mean N of the column's method divided by that of BPTT "
            "at the same T.\n\n")
    return text + md_table(header, rows)


def ptb_section(records: list[dict], runs: list[Run]) -> str | None:
    ptb = [r for r in records if r["task"] == "ptb"]
    ptb_runs = [r for r in runs if r.task == "ptb" and r.finished]
    if not ptb_runs:
        return None
    groups = group_values(ptb)
    configs = sorted({(r.method, r.horizon) for r in ptb_runs} | set(PAPER_PTB_BPC),
                     key=lambda c: (_method_key(c[0]), c[1]))
    n_runs = {}
    for run in ptb_runs:
        n_runs[(run.method, run.horizon)] = n_runs.get((run.method, run.horizon), 0) + 1
    reference = groups.get(("ptb", *PTB_REFERENCE, "chars_to_bptt40"))
    fmt_chars = chars_formatter([r["value"] for r in ptb if r["metric"] == "chars_to_bptt40"])
    rows = []
    for method, horizon in configs:
        n = n_runs.get((method, horizon))
        chars = groups.get(("ptb", method, horizon, "chars_to_bptt40"), [])
        saving = (f"{np.mean(reference) / np.mean(chars):.2f}x" if reference and chars and np.mean(chars) > 0
                  else "–")
        paper = PAPER_PTB_BPC.get((method, horizon))
        paper_saving = PAPER_PTB_DATA_SAVING.get((method, horizon))
        rows.append([
            method, str(horizon),
            fmt_stat(groups.get(("ptb", method, horizon, "bpc_valid"), []), lambda v: f"{v:.3f}", n),
            fmt_stat(groups.get(("ptb", method, horizon, "bpc_test"), []), lambda v: f"{v:.3f}", n),
            fmt_stat(chars, fmt_chars, n) if n else "–",
            saving,
            f"{paper:.3f}" if paper is not None else "–",
            f"~{paper_saving}x" if paper_saving is not None else "–",
        ])
    targets, mean_target = ptb_targets(ptb_runs)
    target_text = (", ".join(f"seed {s}: {v:.3f}" for s, v in sorted(targets.items()))
                   if targets else "none: no finished BPTT T=40 run, so no chars_to_bptt40")
    header = ["method", "T", "bpc_valid", "bpc_test", "chars_to_bptt40", "data saving vs BPTT T=40",
              "paper BPC", "paper data saving"]
    text = ("## Penn Treebank, character level\n\n"
            "Bits per character on the whole valid / test split at the end of the run (lower is better); "
            "mean ± sample std over seeds (n). chars_to_bptt40: characters seen at the first full validation "
            "whose BPC was at most the final valid BPC of the BPTT T=40 run of the same seed (mean over seeds "
            "when that seed has no such run); k/n: k of n runs got there. Data saving: mean chars_to_bptt40 "
            "of BPTT T=40 divided by the row's. Paper: final BPC from Jaderberg et al. 2016, and DNI T=8 "
            f"reaching BPTT T=40's final BPC with ~2.3x less data.\n\nTargets (final valid BPC of BPTT T=40): "
            f"{target_text}.\n\n")
    return text + md_table(header, rows)


def build_markdown(sweeps: list[Sweep], runs: list[Run], records: list[dict], figures: list[Path],
                   markdown_path: Path | None) -> str:
    names = ", ".join(s.name for s in sweeps)
    parts = [f"# Results: {names}",
             "Generated by `python -m scripts.report` from the runs' `summary.json` and TensorBoard logs. "
             "Only finished runs (with a `summary.json`) enter the tables and figures.",
             sweeps_section(sweeps, runs)]
    for section in (table1_section(records, runs), ptb_section(records, runs)):
        if section:
            parts.append(section)
    other = sorted({r.task for r in runs if r.task not in TASK_METRICS})
    if other:
        parts.append("Tasks without a report: " + ", ".join(other) + ".")
    if figures:
        base = markdown_path.parent if markdown_path is not None else Path.cwd()
        lines = ["## Figures"]
        for fig in figures:
            rel = os.path.relpath(Path(fig).resolve(), base.resolve())
            lines.append(f"![{Path(fig).stem}]({Path(rel).as_posix()})")
        parts.append("\n\n".join(lines))
    unfinished, missing = [], []
    for sweep in sweeps:
        present = {r.key for r in sweep.runs}
        unfinished += [r.name for r in sweep.runs if not r.finished]
        missing += [f"{_display_path(sweep.path)}: {t}__{m}__T{h}__s{s}" for t, m, h, s in sweep.expected()
                    if (t, m, h, s) not in present]
    if unfinished or missing:
        lines = [f"- unfinished: `{name}`" for name in unfinished]
        lines += [f"- not started: `{name}`" for name in missing]
        parts.append("## Unfinished runs\n\nLeft out of the tables and figures.\n\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"


# ----- figures -------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(methods) -> dict[str, str]:
    out, extra = {}, iter(EXTRA_COLORS * 4)
    for method in sorted(methods, key=_method_key):
        out[method] = METHOD_COLORS.get(method) or next(extra)
    return out


def _x_scale(curves) -> tuple[float, str]:
    """Divisor and unit word for an x-axis of sample counts, from the largest step of ``curves``."""
    top = max((float(c[0][-1]) for c in curves if len(c[0])), default=0.0)
    return next(((s, u) for s, u in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")) if top >= s),
                (1.0, "count"))


def mean_curve(curves: list[tuple[np.ndarray, np.ndarray]], kind: str = "step", points: int = 400):
    """Mean of curves on a common grid, each only up to its last step.

    ``kind="step"``: a curve holds its last value until the next point (curriculum levels);
    ``"linear"``: linear interpolation (BPC, cosine).
    """
    curves = [(s, v) for s, v in curves if len(s)]
    if not curves:
        return np.array([]), np.array([])
    start = min(float(s[0]) for s, _ in curves)
    stop = max(float(s[-1]) for s, _ in curves)
    grid = np.unique(np.concatenate([np.linspace(start, stop, points)] + [s.astype(float) for s, _ in curves]))
    stack = np.full((len(curves), len(grid)), np.nan)
    for i, (steps, values) in enumerate(curves):
        inside = (grid >= steps[0]) & (grid <= steps[-1])
        if kind == "step":
            index = np.searchsorted(steps, grid[inside], side="right") - 1
            stack[i, inside] = values[index]
        else:
            stack[i, inside] = np.interp(grid[inside], steps, values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
    keep = ~np.isnan(mean)
    return grid[keep], mean[keep]


def plot_curves_by_horizon(runs: list[Run], tag: str, path: Path, title: str, ylabel: str, kind: str = "step",
                           hline: float | None = None) -> Path | None:
    """One panel per T, one line per method (mean over seeds, bold) plus each seed (light)."""
    groups: dict[tuple, list] = {}
    for run in runs:
        curve = run.curve(tag)
        if curve is not None and len(curve[0]):
            groups.setdefault((run.horizon, run.method), []).append(curve)
    if not groups:
        return None
    plt = _pyplot()
    horizons = sorted({h for h, _ in groups})
    colors = _colors({m for _, m in groups})
    ncols = min(len(horizons), 3)
    nrows = math.ceil(len(horizons) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.6 * nrows + 0.6), squeeze=False, sharey=True)
    drawstyle = "steps-post" if kind == "step" else "default"
    scale, unit = _x_scale([c for curves in groups.values() for c in curves])
    for ax, horizon in zip(axes.flat, horizons):
        for method in sorted(colors, key=_method_key):
            curves = groups.get((horizon, method))
            if not curves:
                continue
            for steps, values in curves:
                ax.plot(steps / scale, values, color=colors[method], alpha=0.3, lw=0.8, drawstyle=drawstyle)
            grid, mean = mean_curve(curves, kind)
            ax.plot(grid / scale, mean, color=colors[method], lw=2.2, label=f"{method} (mean of {len(curves)})")
        if hline is not None:
            ax.axhline(hline, color="0.5", lw=0.8, ls=":")
        ax.set_title(f"T = {horizon}")
        ax.set_xlabel(f"samples seen ({unit}; time steps x batch)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in axes.flat[len(horizons):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_final_vs_horizon(task: str, records: list[dict], path: Path) -> Path | None:
    metrics = [m for m in TASK_METRICS[task] if any(r["task"] == task and r["metric"] == m for r in records)]
    if not metrics:
        return None
    plt = _pyplot()
    groups = group_values(records)
    methods = sorted({r["method"] for r in records if r["task"] == task}, key=_method_key)
    colors = _colors(set(methods) | set(PAPER_TABLE1[task]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.8 * len(metrics), 4.4), squeeze=False)
    all_horizons = set()
    for ax, metric in zip(axes.flat, metrics):
        for i, method in enumerate(methods):
            horizons = sorted(h for (t, m, h, me) in groups if (t, m, me) == (task, method, metric))
            if not horizons:
                continue
            all_horizons |= set(horizons)
            stats = [mean_std(groups[(task, method, h, metric)]) for h in horizons]
            offset = (i - (len(methods) - 1) / 2) * 0.06
            xs = np.array(horizons, dtype=float) + offset
            ax.errorbar(xs, [s[0] for s in stats], yerr=[s[1] for s in stats], color=colors[method], marker="o",
                        capsize=3, lw=1.8, label=f"{method} (ours, mean ± std)")
            for x, h in zip(xs, horizons):
                values = groups[(task, method, h, metric)]
                ax.scatter([x] * len(values), values, color=colors[method], s=10, alpha=0.4, zorder=3)
        if metric == "max_length":
            for method, by_h in PAPER_TABLE1[task].items():
                horizons = sorted(by_h)
                all_horizons |= set(horizons)
                ax.plot(horizons, [by_h[h] for h in horizons], ls="--", marker="s", mfc="none", ms=7,
                        color=colors[method], alpha=0.8, label=f"{method} (paper, Table 1)")
        ax.set_xticks(sorted(all_horizons))
        ax.set_xlabel("truncation horizon T (time steps)")
        ax.set_ylabel({"max_length": "largest sequence length N reached",
                       "max_repeats": "largest repeat count R reached"}[metric])
        ax.set_title(f"{TASK_LABELS[task]}: {METRIC_LABELS[metric]} vs T")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_ptb_bpc(runs: list[Run], path: Path, target: float | None) -> Path | None:
    groups: dict[tuple, list] = {}
    for run in runs:
        curve = run.curve("charts/bpc_valid")
        if curve is not None and len(curve[0]):
            groups.setdefault((run.method, run.horizon), []).append(curve)
    if not groups:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    methods = sorted({m for m, _ in groups}, key=_method_key)
    extra = _colors(methods)
    scale, unit = _x_scale([c for curves in groups.values() for c in curves])
    lows, highs = [], []
    for method in methods:
        horizons = sorted(h for m, h in groups if m == method)
        cmap = plt.get_cmap(METHOD_CMAPS[method]) if method in METHOD_CMAPS else None
        for j, horizon in enumerate(horizons):
            shade = 0.8 if len(horizons) == 1 else 0.55 + 0.4 * j / (len(horizons) - 1)
            color = cmap(shade) if cmap else extra[method]
            curves = groups[(method, horizon)]
            for steps, values in curves:
                ax.plot(steps / scale, values, color=color, alpha=0.35, lw=0.8, marker=".", ms=3)
                lows.append(float(np.min(values)))
            grid, mean = mean_curve(curves, "linear")
            ls = "-" if method == "bptt" else ("--" if method == "dni" else "-.")
            ax.plot(grid / scale, mean, color=color, lw=2.2, ls=ls,
                    label=f"{method} T={horizon} (mean of {len(curves)})")
            highs.append(float(np.max(mean)))
    if target is not None:
        ax.axhline(target, color="0.3", lw=1, ls=":",
                   label=f"BPTT T=40 final valid BPC, mean over seeds ({target:.3f})")
    bottom = min(lows + ([target] if target is not None else []))
    ax.set_ylim(bottom - 0.02, min(max(highs), bottom + 1.0) + 0.02)
    ax.set_xlabel(f"characters seen ({unit})")
    ax.set_ylabel("valid bits per character (BPC)")
    ax.set_title("Penn Treebank: validation BPC during training (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def make_figures(runs: list[Run], records: list[dict], figures_dir, probe_exclude=()) -> list[Path]:
    """Every figure the finished runs allow, task by task; returns the files written.

    ``probe_exclude``: names of runs whose probe curves are left out of the ``sg_cosine`` figures.
    """
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for task in sorted({r.task for r in runs}, key=lambda t: (t not in TASK_METRICS, list(TASK_METRICS).index(t)
                                                                 if t in TASK_METRICS else 0, t)):
        task_runs = [r for r in runs if r.task == task]
        label = TASK_LABELS.get(task, task)
        if task in COPY_TASKS:
            written.append(plot_curves_by_horizon(task_runs, "charts/curriculum_length",
                                                  figures_dir / f"{task}_curriculum.png",
                                                  f"{label}: curriculum length N vs samples seen",
                                                  "curriculum length N (steps)"))
            if task == "repeat_copy":
                written.append(plot_curves_by_horizon(task_runs, "charts/curriculum_repeats",
                                                      figures_dir / f"{task}_curriculum_repeats.png",
                                                      f"{label}: curriculum repeat count R vs samples seen",
                                                      "curriculum repeats R"))
            written.append(plot_final_vs_horizon(task, records, figures_dir / f"{task}_final_vs_T.png"))
        if task == "ptb":
            written.append(plot_ptb_bpc(task_runs, figures_dir / "ptb_bpc_valid.png", ptb_targets(task_runs)[1]))
        sg_runs = [r for r in task_runs if r.method in ("dni", "dni_aux") and r.path.name not in probe_exclude]
        if sg_runs:
            written.append(plot_curves_by_horizon(sg_runs, "charts/sg_cosine", figures_dir / f"{task}_sg_cosine.png",
                                                  f"{label}: synthetic-gradient probe cosine vs samples seen",
                                                  "cosine(M(s_T), true gradient)", kind="linear", hline=0.0))
    return [p for p in written if p is not None]


# ----- the whole report ----------------------------------------------------------------------------

def write_report(sweep_dirs, results_dir="results", figures_dir="docs/figures", markdown_path=None,
                 echo: bool = False, probe_exclude=()) -> dict:
    """Write results JSON, figures and the Markdown page for ``sweep_dirs``.

    Returns ``{"records", "results", "figures", "markdown", "markdown_path"}``.
    """
    sweep_dirs = [Path(p) for p in sweep_dirs]
    sweeps = load_sweeps(sweep_dirs)
    runs = finished_runs(sweeps)
    records = run_records(runs)
    results = write_results(records, results_dir, sweep_dirs) if records else []
    figures = make_figures(runs, records, figures_dir, probe_exclude)
    if markdown_path is None:
        markdown_path = Path("docs") / f"results_{'_'.join(s.name for s in sweeps)}.md"
    markdown_path = Path(markdown_path)
    markdown = build_markdown(sweeps, runs, records, figures, markdown_path)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(markdown)
    if echo:
        print(markdown)
    return {"records": records, "results": results, "figures": figures, "markdown": markdown,
            "markdown_path": markdown_path}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="append", nargs="+", required=True,
                        help="sweep directory (logs/<name>); repeat or list several")
    parser.add_argument("--results", default="results", help="directory of the <task>.json results files")
    parser.add_argument("--figures", default="docs/figures", help="directory of the PNG figures")
    parser.add_argument("--markdown", default=None, help="Markdown page; default docs/results_<sweep names>.md")
    parser.add_argument("--probe-exclude", nargs="*", default=[], metavar="RUN",
                        help="run names whose SG-probe curves are left out of the sg_cosine figures")
    args = parser.parse_args(argv)
    args.sweep = [p for group in args.sweep for p in group]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        out = write_report(args.sweep, args.results, args.figures, args.markdown, echo=True,
                           probe_exclude=set(args.probe_exclude))
    except FileNotFoundError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    print(f"report: {len(out['records'])} records -> {', '.join(map(str, out['results'])) or 'nothing'}; "
          f"{len(out['figures'])} figures -> {args.figures}; page -> {out['markdown_path']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
