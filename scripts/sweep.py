"""Run a grid of training runs (task x method x horizon x seed) at one budget of samples, several at a time.

    python -m scripts.sweep --name table1 --tasks copy repeat_copy --methods bptt dni dni_aux \
        --horizons 2 3 4 5 8 --seeds 0 1 2 --budget-samples 5000000 --jobs 2 [-- extra dni-rnn train flags]

Each run writes ``logs/<name>/<task>__<method>__T<T>__s<seed>/``. ``--vary flag=v1,v2`` adds a grid
dimension over any other ``dni-rnn train`` flag (e.g. ``--vary memory-length=2,4,8``); its value joins
the run name as ``__<flag><value>``. ``--variant NAME="--flag v --other w"`` adds named sets of flags as one
more dimension (the run name gets ``__<NAME>``): ablations that change several flags together. In the flags of a
``--variant`` and after ``--``, ``{task}``, ``{method}``, ``{T}`` and ``{seed}`` stand for the run's own, e.g.
``--variant off="--sg-scale 0 --branch-from logs/p/{task}__{method}__T{T}__s{seed}__parent/checkpoint.pt"``
branches every run from its own parent. The sweep is resumable: a run with a
``summary.json`` that ran the sweep's budget is finished and skipped, every other run is started with
``--resume auto``, which continues from its checkpoint or starts afresh when it has none; so a larger
``--budget-samples`` extends finished runs from their last checkpoint. Runs are ordered seed by seed, so a sweep cut short
still holds whole grids for the first seeds. Each job gets ``cores / jobs`` torch threads unless
``--threads`` says otherwise; on a shared machine use 1, since oversubscribed threads slow small
models down many times over.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dni_rnn.run_directory import format_run_name, is_finished, read_summary


def run_name(task: str, method: str, horizon: int, seed: int, varied: tuple = (), variant: str = "") -> str:
    """The run directory's name: the ``--vary`` values and the ``--variant`` name are its variant."""
    parts = [f"{flag}{value}" for flag, value in varied] + ([variant] if variant else [])
    return format_run_name(task, method, horizon, seed, "__".join(parts))


def parse_vary(specs: list[str]) -> list[list[tuple[str, str]]]:
    """``["a=1,2", "b=x"]`` -> ``[[("a", "1"), ("a", "2")], [("b", "x")]]``."""
    dims = []
    for spec in specs:
        flag, _, values = spec.partition("=")
        if not flag or not values:
            raise SystemExit(f"sweep: --vary expects flag=v1,v2,..., got {spec!r}")
        dims.append([(flag.lstrip("-"), value) for value in values.split(",")])
    return dims


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="sweep name: runs go to <logdir>/<name>/")
    parser.add_argument("--logdir", default="logs")
    parser.add_argument("--tasks", nargs="+", default=["copy", "repeat_copy"])
    parser.add_argument("--methods", nargs="+", default=["bptt", "dni", "dni_aux"])
    parser.add_argument("--horizons", nargs="+", type=int, default=[2, 3, 4, 5, 8])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="FLAG=V1,V2",
        help="an extra grid dimension over a dni-rnn train flag (repeatable)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=FLAGS",
        help='a named set of dni-rnn train flags, e.g. best="--sg-scale 1 --bootstrap-discount 0.9" (repeatable; one grid dimension)',
    )
    parser.add_argument("--budget-samples", type=int, required=True, help="samples (time steps x batch) per run")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument(
        "--eval-every-samples",
        type=int,
        default=0,
        help="evaluate every N samples (converted to windows for each horizon, so curves line up); 0: at the end only",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads per run; 0: cores / jobs (use 1 when other work shares the machine)",
    )
    parser.add_argument("--checkpoint-every", type=int, default=2000, help="windows between checkpoints")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args, extra = parser.parse_known_args(argv)
    args.extra = [a for a in extra if a != "--"]
    return args


def parse_variants(specs: list[str]) -> list[tuple[str, list[str]]]:
    """``['a=--x 1', 'b=']`` -> ``[("a", ["--x", "1"]), ("b", [])]``; no spec: one unnamed variant."""
    variants = []
    for spec in specs:
        name, sep, flags = spec.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"sweep: --variant expects NAME=FLAGS with NAME a plain word, got {spec!r}")
        variants.append((name, shlex.split(flags)))
    return variants or [("", [])]


def command(
    args, task, method, horizon, seed, varied, sweep_dir: Path, threads: int, variant: tuple[str, list[str]] = ("", [])
) -> list[str]:
    name = run_name(task, method, horizon, seed, varied, variant[0])
    steps = args.budget_samples // args.batch_size
    fields = {"{task}": task, "{method}": method, "{T}": str(horizon), "{seed}": str(seed)}

    def own(flag: str) -> str:  # the run's own task, method, T and seed in place of their placeholders
        for placeholder, value in fields.items():
            flag = flag.replace(placeholder, value)
        return flag

    cmd = [
        sys.executable,
        "-m",
        "dni_rnn",
        "train",
        task,
        "--method",
        method,
        "--horizon",
        str(horizon),
        "--seed",
        str(seed),
        "--steps",
        str(steps),
        "--batch-size",
        str(args.batch_size),
        "--logdir",
        str(sweep_dir),
        "--run-name",
        name,
        "--threads",
        str(threads),
        "--checkpoint-every",
        str(args.checkpoint_every),
        "--no-progress",
        *map(own, args.extra),
        *[part for flag, value in varied for part in (f"--{flag}", value)],
        *map(own, variant[1]),
    ]
    if args.eval_every_samples:
        cmd += ["--eval-every", str(max(1, args.eval_every_samples // (args.batch_size * horizon)))]
    return cmd + ["--resume", "auto"]  # continues a checkpointed run, starts one that has none


def _ran_short(run_dir: Path, args, horizon: int) -> bool:
    """A finished run with fewer samples than this budget gives it: run again, --resume auto extends it."""
    windows = args.budget_samples // args.batch_size // horizon  # what its --steps amount to
    return read_summary(run_dir).get("samples", 0) < windows * horizon * args.batch_size


def main(argv=None) -> int:
    args = parse_args(argv)
    sweep_dir = Path(args.logdir) / args.name
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    manifest = {k: v for k, v in vars(args).items() if k not in ("dry_run",)}

    grid = [
        (task, method, horizon, seed, varied, variant)
        for seed, task, varied, variant, horizon, method in itertools.product(
            args.seeds,
            args.tasks,
            itertools.product(*parse_vary(args.vary)),
            parse_variants(args.variant),
            args.horizons,
            args.methods,
        )
    ]
    todo = []
    for task, method, horizon, seed, varied, variant in grid:
        cmd = command(args, task, method, horizon, seed, varied, sweep_dir, threads, variant)
        run_dir = sweep_dir / cmd[cmd.index("--run-name") + 1]
        if not is_finished(run_dir) or _ran_short(run_dir, args, horizon):
            todo.append(cmd)
    print(f"sweep {args.name}: {len(grid)} runs, {len(grid) - len(todo)} finished, {len(todo)} to run", flush=True)
    if args.dry_run:  # nothing written: a dry run does not change what the sweep's manifest says it ran
        print("\n".join(" ".join(cmd) for cmd in todo))
        return 0
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "sweep.json").write_text(json.dumps(manifest, indent=2))

    def execute(cmd):
        name = cmd[cmd.index("--run-name") + 1]
        started = time.perf_counter()
        with open(sweep_dir / f"{name}.log", "a") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        print(f"{name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        return code

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        codes = list(pool.map(execute, todo))
    failed = sum(code != 0 for code in codes)
    print(f"sweep {args.name}: {len(codes) - failed} runs done, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
