"""Report one or more sweeps: results JSON per task, a Markdown page with tables, and PNG figures.

    python -m scripts.report --sweep logs/table1 [--sweep logs/ptb ...] --results results \
        --figures docs/figures --markdown docs/results_table1.md

Modules: ``runs`` (reading run directories back), ``records`` (records, results JSON, the paper's numbers),
``tables`` (the Markdown page), ``figures`` (PNG figures); this file composes them and is the CLI.

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
import sys
from pathlib import Path

from scripts.figures import make_figures, mean_curve
from scripts.records import apply_variants, collect, first_reach, run_records, sort_records, write_results
from scripts.runs import finished_runs, load_sweeps
from scripts.tables import build_markdown

__all__ = ["collect", "first_reach", "main", "mean_curve", "sort_records", "write_report"]


def write_report(
    sweep_dirs,
    results_dir=None,
    figures_dir=None,
    markdown_path=None,
    echo: bool = False,
    probe_exclude=(),
) -> dict:
    """Write results JSON, figures and the Markdown page for ``sweep_dirs``.

    Outputs left as None go under the first sweep's own folder (``<sweep>/report/``): writing into the
    repository's ``results/`` and ``docs/`` takes explicit paths, so a trial sweep never overwrites them.
    Returns ``{"records", "results", "figures", "markdown", "markdown_path"}``.
    """
    sweep_dirs = [Path(p) for p in sweep_dirs]
    own = sweep_dirs[0] / "report"
    results_dir = own / "results" if results_dir is None else results_dir
    figures_dir = own / "figures" if figures_dir is None else figures_dir
    markdown_path = own / "results.md" if markdown_path is None else markdown_path
    sweeps = load_sweeps(sweep_dirs)
    apply_variants(sweeps)
    runs = finished_runs(sweeps)
    records = run_records(runs)
    results = write_results(records, results_dir, sweep_dirs) if records else []
    figures = make_figures(runs, records, figures_dir, probe_exclude)
    markdown_path = Path(markdown_path)
    markdown = build_markdown(sweeps, runs, records, figures, markdown_path)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(markdown)
    if echo:
        print(markdown)
    return {
        "records": records,
        "results": results,
        "figures": figures,
        "markdown": markdown,
        "markdown_path": markdown_path,
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sweep",
        action="append",
        nargs="+",
        required=True,
        help="sweep directory (logs/<name>); repeat or list several",
    )
    parser.add_argument(
        "--results", default=None, help="directory of the <task>.json results files; default <sweep>/report/results"
    )
    parser.add_argument("--figures", default=None, help="directory of the PNG figures; default <sweep>/report/figures")
    parser.add_argument("--markdown", default=None, help="Markdown page; default <sweep>/report/results.md")
    parser.add_argument(
        "--probe-exclude",
        nargs="*",
        default=[],
        metavar="RUN",
        help="run names whose SG-probe curves are left out of the sg_cosine figures",
    )
    args = parser.parse_args(argv)
    args.sweep = [p for group in args.sweep for p in group]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        out = write_report(
            args.sweep, args.results, args.figures, args.markdown, echo=True, probe_exclude=set(args.probe_exclude)
        )
    except FileNotFoundError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    print(
        f"report: {len(out['records'])} records -> {', '.join(map(str, out['results'])) or 'nothing'}; "
        f"{len(out['figures'])} figures; page -> {out['markdown_path']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
