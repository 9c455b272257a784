"""Compare branches that continue one parent run (``--branch-from``; ``scripts/plateau_injection.sh``).

    python -m scripts.report_branches logs/plateau_injection --variants on off [--markdown PATH]

For every task, method, T and branch variant, over seeds (mean ± sample std): the curriculum length N at the
branch's first curriculum check (after any advance at that check) and at the end, and the per-bit curriculum loss (``charts/curriculum_loss``, logged at every
check) averaged over the first and over the last quarter of the branch, and their difference (the drift). A
run's branch point is the first step of its own event file (a branch logs from its parent's window on).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dni_rnn.run_directory import parse_run_name
from scripts.records import mean_std
from scripts.runs import load_scalars

LENGTH, LOSS = "charts/curriculum_length", "charts/curriculum_loss"


def branch_row(run_dir: Path) -> dict | None:
    """N at the start and end of one branch, and its loss over the first and last quarter; None without curves."""
    scalars = load_scalars(run_dir)
    if LENGTH not in scalars or LOSS not in scalars:
        return None
    length_steps, lengths = scalars[LENGTH]
    loss_steps, losses = scalars[LOSS]
    quarter = max(1, len(losses) // 4)
    return {
        "start_samples": float(loss_steps[0]),
        "end_samples": float(loss_steps[-1]),
        "n_start": float(lengths[0]),
        "n_end": float(lengths[-1]),
        "loss_first": float(np.mean(losses[:quarter])),
        "loss_last": float(np.mean(losses[-quarter:])),
    }


def collect(sweep_dir: Path, variants: list[str]) -> dict[tuple, list[dict]]:
    """``(task, method, T, variant) -> [row per seed]`` for the finished branches of the given variants."""
    groups: dict[tuple, list[dict]] = {}
    for run_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / "summary.json").is_file()):
        name = parse_run_name(run_dir.name)
        if name is None or name.variant not in variants:
            continue
        row = branch_row(run_dir)
        if row is not None:
            groups.setdefault((name.task, name.method, name.horizon, name.variant), []).append(row)
    return groups


def cell(values: list[float], digits: int) -> str:
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown(groups: dict[tuple, list[dict]], variants: list[str]) -> str:
    lines = [
        "| task | method | T | branch | seeds | samples | N at the branch | N at the end "
        "| loss, first quarter | loss, last quarter | drift |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {variant: index for index, variant in enumerate(variants)}
    for (task, method, horizon, variant), rows in sorted(groups.items(), key=lambda kv: (*kv[0][:3], order[kv[0][3]])):
        column = {key: [row[key] for row in rows] for key in rows[0]}
        drift = [row["loss_last"] - row["loss_first"] for row in rows]
        span = f"{np.mean(column['start_samples']) / 1e6:.2f}M-{np.mean(column['end_samples']) / 1e6:.2f}M"
        lines.append(
            f"| {task} | {method} | {horizon} | {variant} | {len(rows)} | {span} | {cell(column['n_start'], 1)} "
            f"| {cell(column['n_end'], 1)} | {cell(column['loss_first'], 3)} | {cell(column['loss_last'], 3)} "
            f"| {cell(drift, 3)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sweep", type=Path, help="the sweep directory holding the branches")
    parser.add_argument("--variants", nargs="+", required=True, help="the branches' variant names, in table order")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    if not args.sweep.is_dir():
        print(f"report_branches: no sweep directory {args.sweep}", file=sys.stderr)
        return 2
    groups = collect(args.sweep, args.variants)
    if not groups:
        print(f"report_branches: no finished branch of {args.variants} in {args.sweep}", file=sys.stderr)
        return 2
    table = markdown(groups, args.variants)
    print(table, end="")
    if args.markdown:
        args.markdown.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
