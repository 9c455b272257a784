"""Records of finished runs (one per run and metric), the results JSON files, and the paper's numbers.

A record has the keys ``task, method, horizon, seed, budget_samples, metric, value, samples,
wall_seconds, run``; see ``scripts/report.py`` for the metrics.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from dni_rnn.run_directory import parse_run_name
from scripts.runs import Run, finished_runs, load_sweeps

# ----- the paper's numbers (SPEC section 4) ---------------------------------------------------------

PAPER_TABLE1 = {  # largest sequence length reached, Jaderberg et al. 2016, Table 1
    "copy": {"bptt": {2: 7, 3: 8, 4: 10, 5: 8}, "dni": {2: 16, 3: 14, 4: 18, 5: 18}},
    "repeat_copy": {"bptt": {2: 7, 3: 5, 4: 19, 5: 23}, "dni": {2: 39, 3: 33, 4: 39, 5: 59}},
}
PAPER_PTB_BPC = {("bptt", 8): 1.354, ("bptt", 20): 1.349, ("bptt", 40): 1.344, ("dni", 8): 1.34}
PAPER_PTB_DATA_SAVING = {("dni", 8): 2.3}  # "reaching BPTT T=40's final value with roughly 2.3x less data"

COPY_TASKS = ("copy", "repeat_copy")
TASK_METRICS = {
    "copy": ("max_length",),
    "repeat_copy": ("max_length", "max_repeats"),
    "ptb": ("bpc_valid", "bpc_test", "chars_to_bptt40"),
}
TASK_LABELS = {"copy": "Copy", "repeat_copy": "Repeat copy", "ptb": "Penn Treebank (characters)"}
METRIC_LABELS = {"max_length": "largest length N", "max_repeats": "largest repeats R"}
METHOD_ORDER = ("bptt", "dni", "dni_aux")
METHOD_COLORS = {"bptt": "tab:blue", "dni": "tab:orange", "dni_aux": "tab:green"}
METHOD_CMAPS = {"bptt": "Blues", "dni": "Oranges", "dni_aux": "Greens"}
EXTRA_COLORS = ("tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
PTB_REFERENCE = ("bptt", 40)
# A record is replaced only by one of the same key: a run at another budget never replaces it silently.
RECORD_KEY = ("task", "method", "horizon", "seed", "metric", "budget_samples")


def _method_key(method: str):
    base, _, variant = method.partition(":")
    return (METHOD_ORDER.index(base) if base in METHOD_ORDER else len(METHOD_ORDER), base, variant)


def apply_variants(sweeps) -> None:
    """Label each run of a variant sweep ``method:variant``, so that variants are columns of their own.

    ``scripts/sweep.py --variant NAME=FLAGS`` (or ``--vary``) appends ``__NAME`` to a run's directory name,
    after ``__s<seed>``; the run's summary does not know it.
    """
    for sweep in sweeps:
        for run in sweep.runs:
            name = parse_run_name(run.path.name)
            if name is not None and name.variant and run.method is not None and ":" not in run.method:
                run.method = f"{run.method}:{name.variant}"


def is_baseline(method: str) -> bool:
    """Truncated BPTT, any variant: the baselines that ratios are taken against."""
    return method.partition(":")[0] == "bptt"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _record(run: Run, metric: str, value) -> dict:
    return {
        "task": run.task,
        "method": run.method,
        "horizon": run.horizon,
        "seed": run.seed,
        "budget_samples": run.sweep.budget_samples,
        "metric": metric,
        "value": value,
        "samples": run.summary.get("samples"),
        "wall_seconds": run.summary.get("wall_seconds"),
        "run": run.name,
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
    return sorted(
        records, key=lambda r: (r["task"], _method_key(r["method"]), r["horizon"], r["seed"], r["metric"], r["run"])
    )


def collect(sweep_dirs) -> list[dict]:
    """Records of the finished runs of ``sweep_dirs`` (a later sweep wins a repeated run)."""
    sweeps = load_sweeps(sweep_dirs)
    apply_variants(sweeps)
    return run_records(finished_runs(sweeps))


def merge_records(old: list[dict], new: list[dict], sweep_dirs) -> list[dict]:
    """``old`` without records of the sweeps in ``sweep_dirs`` or with the key of a new record, plus ``new``."""
    reported = {Path(p).resolve() for p in sweep_dirs}
    new_keys = {tuple(r[k] for k in RECORD_KEY) for r in new}
    kept = [
        r
        for r in old
        if tuple(r.get(k) for k in RECORD_KEY) not in new_keys
        and Path(str(r.get("run", ""))).resolve().parent not in reported
    ]
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
