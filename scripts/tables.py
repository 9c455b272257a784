"""The Markdown page of a report: the sweeps, Table 1 (copy / repeat copy), the PTB table, unfinished runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from scripts.records import (
    COPY_TASKS,
    METRIC_LABELS,
    PAPER_PTB_BPC,
    PAPER_PTB_DATA_SAVING,
    PAPER_TABLE1,
    PTB_REFERENCE,
    TASK_LABELS,
    TASK_METRICS,
    _method_key,
    group_values,
    is_baseline,
    mean_std,
    ptb_targets,
)
from scripts.runs import Run, Sweep, _display_path


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


def _base_keys(runs: list[Run]) -> set[tuple]:
    """``(task, method, horizon, seed)`` of runs, the variant (``method:variant``) dropped: the grid of sweep.json."""
    return {(r.task, (r.method or "").partition(":")[0], r.horizon, r.seed) for r in runs}


def _union(listed, found, key=None) -> list:
    """The sorted union of a manifest's values and those the runs have."""
    return sorted(set(listed) | set(found), key=key)


def sweeps_section(sweeps: list[Sweep], runs: list[Run]) -> str:
    rows, total = [], 0.0
    for sweep in sweeps:
        finished = [r for r in sweep.runs if r.finished]
        seconds = sum(float(r.summary.get("wall_seconds") or 0.0) for r in finished)
        total += seconds
        m = sweep.manifest
        # A sweep directory is often filled by several invocations (more seeds, another variant), and sweep.json
        # holds only the latest one's grid: the row lists what its runs and that grid hold together.
        tasks = _union(m.get("tasks", []), (r.task for r in finished if r.task))
        methods = _union(m.get("methods", []), (r.method.partition(":")[0] for r in finished if r.method), _method_key)
        horizons = _union(m.get("horizons", []), (r.horizon for r in finished if r.horizon))
        seeds = _union(m.get("seeds", []), (r.seed for r in finished if r.seed is not None))
        grid = sweep.expected()
        budget = sweep.budget_samples
        rows.append(
            [
                f"`{_display_path(sweep.path)}`",
                ", ".join(tasks),
                ", ".join(methods),
                ", ".join(str(h) for h in horizons),
                ", ".join(str(s) for s in seeds),
                f"{budget:,}" if budget is not None else "–",
                str(m.get("batch_size", "–")),
                " ".join(m.get("extra", [])) or "–",
                f"{len(finished)} / {len(sweep.runs) + len(set(grid) - _base_keys(sweep.runs))}",
                fmt_hours(seconds),
            ]
        )
    header = [
        "sweep",
        "tasks",
        "methods",
        "T",
        "seeds",
        "budget (samples per run)",
        "batch",
        "extra flags",
        "finished / runs",
        "run time (sum over runs)",
    ]
    text = "## Sweeps\n\n" + md_table(header, rows)
    text += (
        f"\n\nTotal run time of the finished runs: {fmt_hours(total)} (summed over runs; runs of a sweep "
        f"run `--jobs` at a time). Samples are time steps x batch (characters for PTB)."
    )
    return text


def table1_section(records: list[dict], runs: list[Run]) -> str | None:
    tasks = [t for t in COPY_TASKS if any(r["task"] == t for r in records)]
    if not tasks:
        return None
    groups = group_values(records)
    columns = sorted(
        {(r["method"], r["horizon"]) for r in records if r["task"] in tasks}
        | {(m, h) for t in tasks for m, by_h in PAPER_TABLE1[t].items() for h in by_h},
        key=lambda c: (_method_key(c[0]), c[1]),
    )
    n_runs = {}
    for run in runs:
        if run.task in tasks:
            n_runs[(run.task, run.method, run.horizon)] = n_runs.get((run.task, run.method, run.horizon), 0) + 1
    header = ["task", "row"] + [f"{m} T={h}" for m, h in columns]
    rows = []
    for task in tasks:
        label = TASK_LABELS[task]
        for metric in TASK_METRICS[task]:
            rows.append(
                [label, f"{METRIC_LABELS[metric]} (ours)"]
                + [fmt_stat(groups.get((task, m, h, metric), []), n_total=n_runs.get((task, m, h))) for m, h in columns]
            )
        paper = PAPER_TABLE1[task]
        rows.append(
            [label, "largest length N (paper)"]
            + [str(paper[m][h]) if h in paper.get(m, {}) else "–" for m, h in columns]
        )

        def ratio(m, h):
            # Against the strongest truncated baseline at this T (the best bptt variant, by mean N).
            bases = [
                v
                for (t, bm, bh, metric), v in groups.items()
                if (t, bh, metric) == (task, h, "max_length") and is_baseline(bm)
            ]
            base = max(bases, key=np.mean, default=None)
            mine = groups.get((task, m, h, "max_length"))
            if is_baseline(m) or not base or not mine or np.mean(base) == 0:
                return "–"
            return f"{np.mean(mine) / np.mean(base):.2f}x"

        def paper_ratio(m, h):
            if m == "bptt" or h not in paper.get(m, {}) or h not in paper["bptt"]:
                return "–"
            return f"{paper[m][h] / paper['bptt'][h]:.2f}x"

        rows.append([label, "method / bptt, N (ours)"] + [ratio(m, h) for m, h in columns])
        rows.append([label, "method / bptt, N (paper)"] + [paper_ratio(m, h) for m, h in columns])
    text = (
        "## Copy and repeat copy (the layout of the paper's Table 1)\n\n"
        "Largest sequence length N the curriculum reached by the end of the run (higher is better); for "
        "repeat copy also the largest repeat count R. Cells: mean ± sample std over seeds (n seeds, or "
        'k/n when k of n finished runs have the metric). "paper": Jaderberg et al. 2016, Table 1 '
        "(BPTT and DNI at T = 2..5). Ratio rows: mean N of the column's method divided by that of BPTT "
        "at the same T (its best variant when several ran). A column `method:variant` is a named set of "
        "flags (`scripts/sweep.py --variant`).\n\n"
    )
    return text + md_table(header, rows)


def first_levels(curve) -> dict[int, int]:
    """``level -> samples`` at which a curriculum curve first reached each level (at or above it)."""
    if curve is None:
        return {}
    out: dict[int, int] = {}
    for step, value in zip(*curve):
        for level in range(1, int(round(value)) + 1):
            out.setdefault(level, int(step))
    return out


def levels_section(runs: list[Run]) -> str | None:
    """Samples to reach each curriculum level N, per task, method and T: mean ± std over the seeds that got there."""
    rows = []
    copy_runs = [r for r in runs if r.task in COPY_TASKS]
    if not copy_runs:
        return None
    groups: dict[tuple, list[dict[int, int]]] = {}
    for run in copy_runs:
        groups.setdefault((run.task, run.method, run.horizon), []).append(
            first_levels(run.curve("charts/curriculum_length"))
        )
    top = max((max(levels, default=1) for seeds in groups.values() for levels in seeds), default=1)
    shown = list(range(3, top + 1))
    for (task, method, horizon), seeds in sorted(
        groups.items(), key=lambda kv: (kv[0][0], _method_key(kv[0][1]), kv[0][2])
    ):
        cells = []
        for level in shown:
            reached = [levels[level] / 1e6 for levels in seeds if level in levels]
            cells.append(fmt_stat(reached, fmt=lambda v: f"{v:.2f}", n_total=len(seeds)) if reached else "–")
        rows.append([TASK_LABELS[task], method, str(horizon)] + cells)
    text = (
        "## Samples to reach each curriculum level\n\n"
        "Millions of samples (time steps x batch) at which the curriculum first reached length N: mean ± sample "
        "std over the seeds that reached it (k/n when only k of n did; – when none did). Read from "
        "`charts/curriculum_length`, which is logged at every curriculum check.\n\n"
    )
    return text + md_table(["task", "method", "T"] + [f"N={level}" for level in shown], rows)


SG_TAGS = ("charts/sg_online_cosine", "charts/sg_cosine", "charts/sg_param_cosine", "charts/sg_param_cosine_shuffled")


def sg_quality_section(runs: list[Run]) -> str | None:
    """The SG-quality metrics (docs/METRICS.md) over the last third of each run: mean ± std over seeds."""
    groups: dict[tuple, dict[str, list[float]]] = {}
    for run in runs:
        values = {}
        for tag in SG_TAGS:
            curve = run.curve(tag)
            if curve is not None and len(curve[1]):
                tail = curve[1][len(curve[1]) - max(1, len(curve[1]) // 3) :]
                values[tag] = float(np.mean(tail))
        if values:
            group = groups.setdefault((run.task, run.method, run.horizon), {})
            for tag, value in values.items():
                group.setdefault(tag, []).append(value)
    if not groups:
        return None
    rows = [
        [TASK_LABELS.get(task, task), method, str(horizon)]
        + [fmt_stat(group.get(tag, []), fmt=lambda v: f"{v:.3f}") if group.get(tag) else "–" for tag in SG_TAGS]
        for (task, method, horizon), group in sorted(
            groups.items(), key=lambda kv: (kv[0][0], _method_key(kv[0][1]), kv[0][2])
        )
    ]
    text = (
        "## Synthetic-gradient quality\n\n"
        "Means over the last third of each run's points, then mean ± std over seeds. `online`: cosine of M(s_0) "
        "with its bootstrapped target, every window; `probe`: cosine of the injected direction with the true "
        "discounted future gradient (snapshot weights, reset boundaries left out); `param`: cosine of the "
        "parameter gradients they induce through the window; `param, shuffled`: the same for the injected "
        "direction permuted across the batch, the chance level of `param` for that run (docs/METRICS.md).\n\n"
    )
    return text + md_table(["task", "method", "T", "online", "probe", "param", "param, shuffled"], rows)


def ptb_section(records: list[dict], runs: list[Run]) -> str | None:
    ptb = [r for r in records if r["task"] == "ptb"]
    ptb_runs = [r for r in runs if r.task == "ptb" and r.finished]
    if not ptb_runs:
        return None
    groups = group_values(ptb)
    configs = sorted(
        {(r.method, r.horizon) for r in ptb_runs} | set(PAPER_PTB_BPC), key=lambda c: (_method_key(c[0]), c[1])
    )
    n_runs = {}
    for run in ptb_runs:
        n_runs[(run.method, run.horizon)] = n_runs.get((run.method, run.horizon), 0) + 1
    reference = groups.get(("ptb", *PTB_REFERENCE, "chars_to_bptt40"))
    fmt_chars = chars_formatter([r["value"] for r in ptb if r["metric"] == "chars_to_bptt40"])
    rows = []
    for method, horizon in configs:
        n = n_runs.get((method, horizon))
        chars = groups.get(("ptb", method, horizon, "chars_to_bptt40"), [])
        saving = f"{np.mean(reference) / np.mean(chars):.2f}x" if reference and chars and np.mean(chars) > 0 else "–"
        paper = PAPER_PTB_BPC.get((method, horizon))
        paper_saving = PAPER_PTB_DATA_SAVING.get((method, horizon))
        rows.append(
            [
                method,
                str(horizon),
                fmt_stat(groups.get(("ptb", method, horizon, "bpc_valid"), []), lambda v: f"{v:.3f}", n),
                fmt_stat(groups.get(("ptb", method, horizon, "bpc_test"), []), lambda v: f"{v:.3f}", n),
                fmt_stat(chars, fmt_chars, n) if n else "–",
                saving,
                f"{paper:.3f}" if paper is not None else "–",
                f"~{paper_saving}x" if paper_saving is not None else "–",
            ]
        )
    targets, mean_target = ptb_targets(ptb_runs)
    target_text = (
        ", ".join(f"seed {s}: {v:.3f}" for s, v in sorted(targets.items()))
        if targets
        else "none: no finished BPTT T=40 run, so no chars_to_bptt40"
    )
    header = [
        "method",
        "T",
        "bpc_valid",
        "bpc_test",
        "chars_to_bptt40",
        "data saving vs BPTT T=40",
        "paper BPC",
        "paper data saving",
    ]
    text = (
        "## Penn Treebank, character level\n\n"
        "Bits per character on the whole valid / test split at the end of the run (lower is better); "
        "mean ± sample std over seeds (n). chars_to_bptt40: characters seen at the first full validation "
        "whose BPC was at most the final valid BPC of the BPTT T=40 run of the same seed (mean over seeds "
        "when that seed has no such run); k/n: k of n runs got there. Data saving: mean chars_to_bptt40 "
        "of BPTT T=40 divided by the row's. Paper: final BPC from Jaderberg et al. 2016, and DNI T=8 "
        f"reaching BPTT T=40's final BPC with ~2.3x less data.\n\nTargets (final valid BPC of BPTT T=40): "
        f"{target_text}.\n\n"
    )
    return text + md_table(header, rows)


def build_markdown(
    sweeps: list[Sweep], runs: list[Run], records: list[dict], figures: list[Path], markdown_path: Path | None
) -> str:
    names = ", ".join(s.name for s in sweeps)
    parts = [
        f"# Results: {names}",
        "Generated by `python -m scripts.report` from the runs' `summary.json` and TensorBoard logs. "
        "Only finished runs (with a `summary.json`) enter the tables and figures.",
        sweeps_section(sweeps, runs),
    ]
    sections = (
        table1_section(records, runs),
        levels_section(runs),
        sg_quality_section(runs),
        ptb_section(records, runs),
    )
    for section in sections:
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
        present = _base_keys(sweep.runs)
        unfinished += [r.name for r in sweep.runs if not r.finished]
        missing += [
            f"{_display_path(sweep.path)}: {t}__{m}__T{h}__s{s}"
            for t, m, h, s in sweep.expected()
            if (t, m, h, s) not in present
        ]
    if unfinished or missing:
        lines = [f"- unfinished: `{name}`" for name in unfinished]
        lines += [f"- not started: `{name}`" for name in missing]
        parts.append("## Unfinished runs\n\nLeft out of the tables and figures.\n\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"
