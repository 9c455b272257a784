"""Report streaming-RL sweeps: results JSON, the effective-memory table (k*), and a success-vs-lag figure.

    python -m scripts.report_rl --sweep logs/rl_memory [--sweep logs/rl_rp_medium ...] \
        --results results/rl.json --figure docs/figures/rl_memory.png [--markdown docs/RL.md]

A sweep directory (``scripts/sweep.py``) holds one directory per run with ``summary.json`` once the run has
finished (written by ``RLTask.summary()``: ``env``, ``lag``, ``success_rate`` (MemoryChain), ``return``,
over the episodes that ended in the last 10% of the run's windows) and TensorBoard events; the sweep
directory holds ``sweep.json`` (``budget_samples``; a run's own ``config.json`` steps x batch take
precedence). Unfinished runs are listed, not tabulated.

Outputs:

* ``results/rl.json``: a list of records ``{"task": "rl", "env", "lag", "method", "horizon", "seed",
  "budget_samples", "metric", "value", "samples", "wall_seconds", "run", "variant", "window"}``; ``method`` is
  the engine's method followed by the run's variant in brackets (``"bptt (rtu)"``), the row of the tables;
  ``window`` is the run's own T. Metrics: ``success_rate`` (MemoryChain) or ``return`` (every other env), both over the final 10% of the run; and, from the
  TensorBoard events, ``peak_success_rate`` / ``peak_return``, the best value logged during the run (a
  run that solved a lag and then lost it shows a high peak and a low final value), and for dni runs
  ``sg_online_cosine``, the mean of ``charts/sg_online_cosine`` over the last third of the run. Records of
  the sweeps reported replace older records with the same ``(env, lag, method, horizon, seed, metric)``;
  ``--replace-env ENV`` drops every older record of ENV first (a new grid replaces an old one).
  A run whose variant includes ``episode`` or ``episode_...`` (windows of one whole episode, ``T = lag + 2``)
  gets the horizon 0, shown as ``T=episode``: one column for every lag.
* Markdown (stdout, and between ``<!-- rl-results:start -->`` and ``<!-- rl-results:end -->`` of
  ``--markdown`` when given): for MemoryChain, ``k*`` = the largest lag whose success rate, averaged over
  seeds, is >= 0.9 (``-`` if none), per method and ``T``, with the per-seed ``k*`` values; the mean success
  per lag; and for other envs a table of final returns.
* ``--figure``: mean success (over seeds, with each seed as a dot) against lag, one panel per ``T``, one
  line per method.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from dni_rnn.run_directory import parse_run_name, read_summary
from scripts.figures_rl import plot_memory_chain

SOLVED = 0.9
METHOD_ORDER = ("bptt", "dni", "dni_aux")
EPISODE = 0  # the horizon of a full-episode run (variant "episode", T = lag + 2): one window per episode
LAG_PART = re.compile(r"^memory-length\d+$")
START, END = "<!-- rl-results:start -->", "<!-- rl-results:end -->"


def scalar_values(run_dir: Path, tags: tuple[str, ...]) -> dict[str, list[float]]:
    """The values of the scalar ``tags`` a run logged (its TensorBoard events read once); absent tags are left out."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    present = set(accumulator.Tags().get("scalars", []))
    return {tag: [event.value for event in accumulator.Scalars(tag)] for tag in tags if tag in present}


def run_budget(run_dir: Path, sweep_budget: int | None) -> int | None:
    """The samples a run was started for: its own ``--steps`` x ``--batch-size`` (config.json). A sweep's manifest
    holds only the budget of its latest invocation, which may differ from that of older runs in the same sweep."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        return sweep_budget
    train = json.loads(config_path.read_text()).get("train", {})
    steps, batch = train.get("steps"), train.get("batch_size")
    return steps * batch if steps and batch else sweep_budget


def read_sweep(sweep_dir: Path) -> tuple[list[dict], list[str]]:
    """Records of the finished runs of one sweep, and the names of the unfinished ones."""
    manifest_path = sweep_dir / "sweep.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    budget = manifest.get("budget_samples")
    records, unfinished = [], []
    for run_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
        parsed = parse_run_name(run_dir.name)
        if parsed is None or parsed.task != "rl":
            continue
        summary = read_summary(run_dir)
        if summary is None:
            unfinished.append(f"{sweep_dir.name}/{run_dir.name}")
            continue
        if summary.get("task") != "rl":
            continue
        # A run's row is its method and its variant; the lag (a --vary memory-length part) is a column.
        variant = "__".join(part for part in parsed.variant.split("__") if part and not LAG_PART.match(part))
        env = summary.get("env", "?")
        lag = summary.get("lag")
        base = {
            "task": "rl",
            "env": env,
            "lag": int(lag) if lag is not None and not math.isnan(lag) else None,
            "method": summary["method"] + (f" ({variant})" if variant else ""),
            "variant": variant,
            "horizon": EPISODE if is_full_episode(variant) else summary["horizon"],
            "window": summary["horizon"],
            "seed": summary["seed"],
            "budget_samples": run_budget(run_dir, budget),
            "samples": summary["samples"],
            "wall_seconds": summary["wall_seconds"],
            "run": f"{sweep_dir.name}/{run_dir.name}",
        }
        metric = "success_rate" if "success_rate" in summary else "return"
        records.append({**base, "metric": metric, "value": summary.get(metric, math.nan)})
        chart = "charts/success_rate" if metric == "success_rate" else "charts/episodic_return"
        logged = scalar_values(run_dir, (chart, "charts/sg_online_cosine"))
        if chart in logged:
            records.append({**base, "metric": f"peak_{metric}", "value": max(logged[chart])})
        if "charts/sg_online_cosine" in logged:  # where M has settled: the mean over the last third of the run
            online = logged["charts/sg_online_cosine"]
            records.append(
                {**base, "metric": "sg_online_cosine", "value": float(np.mean(online[len(online) * 2 // 3 :]))}
            )
    return records, unfinished


def merge(path: Path, new: list[dict], replace_envs: tuple[str, ...] = ()) -> list[dict]:
    """New records replace old ones with the same (env, lag, method, horizon, seed, metric); ``method``
    names the variant too (``"dni (best)"``)."""
    key = lambda r: (r["env"], r["lag"], r["method"], r["horizon"], r["seed"], r["metric"])  # noqa: E731
    fresh = {key(r) for r in new}
    old = json.loads(path.read_text()) if path.is_file() else []
    for env in replace_envs:
        if not any(r["env"] == env for r in old):
            print(f"report_rl: --replace-env {env}: no record of it in {path}", file=sys.stderr)
    return [r for r in old if key(r) not in fresh and r["env"] not in replace_envs] + new


def _methods(records):
    present = {r["method"] for r in records}
    return [m for m in METHOD_ORDER if m in present] + sorted(present - set(METHOD_ORDER))


def lag_table(caption: str, cell_text, methods: list[str], horizons: list[int], lags: list[int]) -> list[str]:
    """Markdown lines: a row per (method, T) that has a cell, a column per lag; ``cell_text(method, T, lag)``."""
    lines = ["", caption, "", "| method | T | " + " | ".join(f"lag {lag}" for lag in lags) + " |"]
    lines.append("|---|---|" + "---|" * len(lags))
    for method in methods:
        for h in horizons:
            row = [cell_text(method, h, lag) for lag in lags]
            if any(row):
                lines.append(f"| {method} | {horizon_label(h)} | " + " | ".join(row) + " |")
    return lines


def is_full_episode(variant: str) -> bool:
    """A full-episode run's variant is ``episode`` or starts with ``episode_`` (``episode_chrono``)."""
    return any(part == "episode" or part.startswith("episode_") for part in variant.split("__"))


def horizon_label(horizon: int) -> str:
    return "episode" if horizon == EPISODE else str(horizon)


def memory_tables(records: list[dict]) -> tuple[str, dict]:
    """Markdown for MemoryChain: k* per method and T, and mean success per lag. Also the grid of means."""
    chain = [r for r in records if r["metric"] == "success_rate" and "MemoryChain" in r["env"]]
    peaks = {
        (r["method"], r["horizon"], r["lag"], r["seed"]): r["value"]
        for r in records
        if r["metric"] == "peak_success_rate" and "MemoryChain" in r["env"]
    }
    if not chain:
        return "", {}
    cells = defaultdict(list)  # (method, T, lag) -> [(seed, success)]
    for r in chain:
        cells[(r["method"], r["horizon"], r["lag"])].append((r["seed"], r["value"]))
    methods, horizons = _methods(chain), sorted({r["horizon"] for r in chain})
    lags = sorted({r["lag"] for r in chain})
    means = {k: float(np.mean([v for _, v in vals])) for k, vals in cells.items()}

    def k_star(method, horizon, seed=None):
        solved = [
            lag
            for lag in lags
            if (method, horizon, lag) in cells
            and (
                means[(method, horizon, lag)] >= SOLVED
                if seed is None
                else any(s == seed and v >= SOLVED for s, v in cells[(method, horizon, lag)])
            )
        ]
        return max(solved) if solved else None

    lines = [
        f"**k\\*** = the largest lag whose success rate (final 10% of the run, mean over seeds) is >= {SOLVED}; "
        "in brackets, k\\* of each seed (`-`: no lag solved).",
        "",
        "| method | " + " | ".join(f"T={horizon_label(h)}" for h in horizons) + " |",
        "|---|" + "---|" * len(horizons),
    ]
    for method in methods:
        row = []
        for h in horizons:
            ran = sorted({s for lag in lags for s, _ in cells.get((method, h, lag), [])})
            per_seed = [k_star(method, h, s) for s in ran]
            if not per_seed:  # no run of this method at this T
                row.append("")
                continue
            k = k_star(method, h)
            row.append(
                f"{k if k is not None else '-'} ({'/'.join(str(x) if x is not None else '-' for x in per_seed)})"
            )
        lines.append(f"| {method} | " + " | ".join(row) + " |")

    def success_text(method, h, lag):
        vals = cells.get((method, h, lag))
        if not vals:
            return ""
        peak = [peaks[(method, h, lag, s)] for s, _ in vals if (method, h, lag, s) in peaks]
        peak_text = f" [{np.mean(peak):.2f}]" if peak else ""
        return f"{means[(method, h, lag)]:.2f} ({len(vals)}){peak_text}"

    caption = (
        "Mean success rate over seeds (n seeds), final 10% of the run; in brackets the mean of the peak "
        "success logged during the run:"
    )
    lines += lag_table(caption, success_text, methods, horizons, lags)
    online = defaultdict(list)  # (method, T, lag) -> M's online cosine of each seed
    for r in records:
        if r["metric"] == "sg_online_cosine" and "MemoryChain" in r["env"]:
            online[(r["method"], r["horizon"], r["lag"])].append(r["value"])
    if online:
        caption = (
            "`M`'s online cosine (`charts/sg_online_cosine`: `M(s_0)` against its bootstrapped target, pooled over "
            "the batch; mean over the last third of the run's points, then over seeds):"
        )
        cosine_text = lambda m, h, lag: f"{np.mean(online[(m, h, lag)]):.3f}" if (m, h, lag) in online else ""  # noqa: E731
        lines += lag_table(caption, cosine_text, methods, horizons, lags)
    return "\n".join(lines), {"cells": cells, "means": means, "methods": methods, "horizons": horizons, "lags": lags}


def return_table(records: list[dict]) -> str:
    """Markdown for every env but MemoryChain: final return mean ± std over seeds, per env, method and T."""
    rows = [r for r in records if r["metric"] == "return"]
    if not rows:
        return ""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["env"], r["method"], r["horizon"])].append(r)
    lines = [
        "| env | lag | method | T | final return (mean ± std, n) | peak return | budget (samples) |",
        "|---|---|---|---|---|---|---|",
    ]
    peaks = {
        (r["env"], r["method"], r["horizon"], r["seed"]): r["value"] for r in records if r["metric"] == "peak_return"
    }
    for (env, method, horizon), group in sorted(
        groups.items(),
        key=lambda kv: (kv[0][0], METHOD_ORDER.index(kv[0][1]) if kv[0][1] in METHOD_ORDER else 9, kv[0][1], kv[0][2]),
    ):
        values = [r["value"] for r in group]
        peak = [peaks[(env, method, horizon, r["seed"])] for r in group if (env, method, horizon, r["seed"]) in peaks]
        lag = group[0]["lag"]
        peak_text = f"{np.mean(peak):.3f}" if peak else ""
        lines.append(
            f"| {env} | {lag if lag is not None else ''} | {method} | {horizon_label(horizon)} | "
            f"{np.mean(values):.3f} ± {np.std(values):.3f} ({len(values)}) | {peak_text} | "
            f"{group[0]['budget_samples']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="append", required=True, help="a sweep directory (repeatable)")
    parser.add_argument("--results", default="results/rl.json")
    parser.add_argument("--figure", default="docs/figures/rl_memory.png")
    parser.add_argument("--markdown", default=None, help="a Markdown file whose results section is replaced")
    parser.add_argument(
        "--replace-env",
        action="append",
        default=[],
        help="drop this env's records from --results before merging: the sweeps given replace an older grid",
    )
    args = parser.parse_args(argv)

    records, unfinished = [], []
    for sweep in args.sweep:
        sweep_dir = Path(sweep)
        if not sweep_dir.is_dir():
            parser.error(f"no sweep directory {sweep}")
        found, missing = read_sweep(sweep_dir)
        records += found
        unfinished += missing
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    all_records = merge(results, records, tuple(args.replace_env))
    results.write_text(json.dumps(all_records, indent=1))

    memory, grid = memory_tables(all_records)
    parts = []
    if memory:
        parts += ["### MemoryChain: effective memory horizon", "", memory, ""]
        plot_memory_chain(grid, Path(args.figure), SOLVED, EPISODE)
        link = os.path.relpath(args.figure, Path(args.markdown).parent) if args.markdown else args.figure
        parts += [f"![success vs lag]({link})", ""]
    others = return_table(all_records)
    if others:
        parts += ["### Other environments (final return over the last 10% of the run)", "", others, ""]
    budgets = sorted({r["budget_samples"] for r in all_records if r["budget_samples"]})
    parts += [
        f"Budgets (samples = env steps, all envs): {', '.join(str(b) for b in budgets)}. "
        f"{len({r['run'] for r in all_records})} finished runs."
    ]
    if unfinished:
        parts += [
            "",
            f"Unfinished runs (left out): {len(unfinished)}: "
            + ", ".join(unfinished[:20])
            + (" ..." if len(unfinished) > 20 else ""),
        ]
    text = "\n".join(parts)
    print(text)
    if args.markdown:
        page = Path(args.markdown)
        content = page.read_text() if page.is_file() else ""
        if START in content and END in content:
            head, rest = content.split(START, 1)
            _, tail = rest.split(END, 1)
            content = f"{head}{START}\n{text}\n{END}{tail}"
        else:
            content = f"{content}\n{START}\n{text}\n{END}\n"
        page.write_text(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
