"""The PNG figures of a report: curriculum and probe curves per T, final value vs T, PTB validation BPC."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from scripts.records import (
    COPY_TASKS,
    EXTRA_COLORS,
    METHOD_CMAPS,
    METHOD_COLORS,
    METRIC_LABELS,
    PAPER_TABLE1,
    TASK_LABELS,
    TASK_METRICS,
    _method_key,
    group_values,
    is_baseline,
    mean_std,
    ptb_targets,
)
from scripts.runs import Run


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
    return next(
        ((s, u) for s, u in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")) if top >= s), (1.0, "count")
    )


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


def plot_curves_by_horizon(
    runs: list[Run], tag: str, path: Path, title: str, ylabel: str, kind: str = "step", hline: float | None = None
) -> Path | None:
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
    for ax in axes.flat[len(horizons) :]:
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
            ax.errorbar(
                xs,
                [s[0] for s in stats],
                yerr=[s[1] for s in stats],
                color=colors[method],
                marker="o",
                capsize=3,
                lw=1.8,
                label=f"{method} (ours, mean ± std)",
            )
            for x, h in zip(xs, horizons):
                values = groups[(task, method, h, metric)]
                ax.scatter([x] * len(values), values, color=colors[method], s=10, alpha=0.4, zorder=3)
        if metric == "max_length":
            for method, by_h in PAPER_TABLE1[task].items():
                horizons = sorted(by_h)
                all_horizons |= set(horizons)
                ax.plot(
                    horizons,
                    [by_h[h] for h in horizons],
                    ls="--",
                    marker="s",
                    mfc="none",
                    ms=7,
                    color=colors[method],
                    alpha=0.8,
                    label=f"{method} (paper, Table 1)",
                )
        ax.set_xticks(sorted(all_horizons))
        ax.set_xlabel("truncation horizon T (time steps)")
        ax.set_ylabel(
            {"max_length": "largest sequence length N reached", "max_repeats": "largest repeat count R reached"}[metric]
        )
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
            ax.plot(
                grid / scale, mean, color=color, lw=2.2, ls=ls, label=f"{method} T={horizon} (mean of {len(curves)})"
            )
            highs.append(float(np.max(mean)))
    if target is not None:
        ax.axhline(
            target, color="0.3", lw=1, ls=":", label=f"BPTT T=40 final valid BPC, mean over seeds ({target:.3f})"
        )
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
    for task in sorted(
        {r.task for r in runs},
        key=lambda t: (t not in TASK_METRICS, list(TASK_METRICS).index(t) if t in TASK_METRICS else 0, t),
    ):
        task_runs = [r for r in runs if r.task == task]
        label = TASK_LABELS.get(task, task)
        if task in COPY_TASKS:
            written.append(
                plot_curves_by_horizon(
                    task_runs,
                    "charts/curriculum_length",
                    figures_dir / f"{task}_curriculum.png",
                    f"{label}: curriculum length N vs samples seen",
                    "curriculum length N (steps)",
                )
            )
            if task == "repeat_copy":
                written.append(
                    plot_curves_by_horizon(
                        task_runs,
                        "charts/curriculum_repeats",
                        figures_dir / f"{task}_curriculum_repeats.png",
                        f"{label}: curriculum repeat count R vs samples seen",
                        "curriculum repeats R",
                    )
                )
            written.append(plot_final_vs_horizon(task, records, figures_dir / f"{task}_final_vs_T.png"))
        if task == "ptb":
            written.append(plot_ptb_bpc(task_runs, figures_dir / "ptb_bpc_valid.png", ptb_targets(task_runs)[1]))
        sg_runs = [r for r in task_runs if not is_baseline(r.method) and r.path.name not in probe_exclude]
        if sg_runs and any(r.curve("charts/sg_param_cosine") is not None for r in sg_runs):
            written.append(
                plot_curves_by_horizon(
                    sg_runs,
                    "charts/sg_param_cosine",
                    figures_dir / f"{task}_sg_param_cosine.png",
                    f"{label}: parameter-space alignment of the synthetic gradient vs samples seen",
                    "cos(J^T m, J^T g_true)",
                    kind="linear",
                    hline=0.0,
                )
            )
        if sg_runs:
            written.append(
                plot_curves_by_horizon(
                    sg_runs,
                    "charts/sg_cosine",
                    figures_dir / f"{task}_sg_cosine.png",
                    f"{label}: synthetic-gradient probe cosine vs samples seen",
                    "cosine(M(s_T), true gradient)",
                    kind="linear",
                    hline=0.0,
                )
            )
    return [p for p in written if p is not None]
