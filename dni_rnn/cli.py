"""The ``dni-rnn`` command: ``dni-rnn train TASK [options]``, ``dni-rnn train --config RUN/config.json [options]``,
``dni-rnn eval TASK --checkpoint PATH``.

Tasks come from the ``dni_rnn.tasks`` entry-point group, so every installed task gets its own
``train`` sub-command with the shared options plus its own. Exit codes: 0 for a finished run and for a
run stopped by SIGTERM / Ctrl-C at a window boundary (its checkpoint written, the command that continues
it on stderr); 1 when the NaN guard stopped the run; 2 for bad input (one line on stderr: a flag out of
range, a busy or occupied run directory, a checkpoint that fails its checksum or does not fit).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from dni_rnn.config import add_dataclass_arguments, dataclass_from_args
from dni_rnn.engine import EngineConfig, NonFiniteError
from dni_rnn.evaluation import evaluate_checkpoint
from dni_rnn.run_config import read_config, reproduced
from dni_rnn.run_report import figures_of_merit, format_report
from dni_rnn.stopping import RunInterrupted
from dni_rnn.task import EvalOptions, available_tasks
from dni_rnn.train_config import DEVICES, TrainConfig
from dni_rnn.training import train

CONFIG_HELP = "A run's config.json: its settings are the defaults of this run; flags given here override them."


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (``dni-rnn: error: ...``) and exit code 2."""

    def error(self, message):
        self.exit(2, f"dni-rnn: error: {message}\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = OneLineParser(
        prog="dni-rnn", description="Truncated BPTT with synthetic boundary gradients (DNI) for RNNs."
    )
    parser.task_parsers = {}  # name -> the parser of `dni-rnn train NAME`
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    train_parser = commands.add_parser(
        "train", help="train a model on a task", description="Train on a task; see `dni-rnn train TASK --help`."
    )
    task_parsers = train_parser.add_subparsers(dest="task", required=True, metavar="TASK", parser_class=OneLineParser)
    task_classes = {}
    for name, entry_point in sorted(available_tasks().items()):
        try:
            task_class = entry_point.load()
        except Exception as error:  # one broken plug-in must not take the other tasks down with it
            broken = task_parsers.add_parser(name, help=f"(cannot be loaded: {error})")
            broken.set_defaults(load_error=f"task {name!r} cannot be loaded: {type(error).__name__}: {error}")
            continue
        task_classes[name] = task_class
        sub = task_parsers.add_parser(name, help=(task_class.__doc__ or "").strip().split("\n")[0])
        parser.task_parsers[name] = sub
        sub.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
        add_dataclass_arguments(sub, TrainConfig, skip=("task",))
        add_dataclass_arguments(sub, EngineConfig)
        add_dataclass_arguments(sub, task_class.Config)
    eval_parser = commands.add_parser(
        "eval", help="evaluate a saved checkpoint", description="Rebuild a run from its checkpoint and evaluate it."
    )
    eval_parser.add_argument("task", help="the task the checkpoint was trained on")
    eval_parser.add_argument("--checkpoint", required=True, help="path of checkpoint.pt or best.pt")
    eval_parser.add_argument("--device", default="auto", choices=DEVICES)
    eval_parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0 keeps torch's default.")
    add_dataclass_arguments(eval_parser, EvalOptions)
    return parser, task_classes


def apply_config(command: list[str], parser: argparse.ArgumentParser, task_classes: dict) -> list[str]:
    """``dni-rnn train [TASK] --config PATH ...``: the saved run's settings become the defaults of the task's
    parser (flags given override them), and TASK may be left out. Returns the command with the task in place."""
    if not command or command[0] != "train":
        return command
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(command[1:])
    if known.config is None:
        return command
    sections = read_config(known.config)
    task = sections["train"]["task"]
    if task not in task_classes:
        raise ValueError(f"config {known.config} is a run of task {task!r}, which is not installed")
    if len(command) < 2 or command[1].startswith("-"):
        command = ["train", task, *command[1:]]
    elif command[1] != task:
        raise ValueError(f"config {known.config} is a run of task {task!r}, not {command[1]!r}")
    classes = {"train": TrainConfig, "engine": EngineConfig, "task": task_classes[task].Config}
    defaults = reproduced(read_config(known.config, classes))
    values = {name: value for section in defaults.values() for name, value in section.items() if name != "task"}
    parser.task_parsers[task].set_defaults(**values)
    return command


def main(argv: list[str] | None = None) -> int:
    parser, task_classes = build_parser()
    command = list(sys.argv[1:] if argv is None else argv)
    main_rank = os.environ.get("RANK", "0") == "0"
    try:
        command = apply_config(command, parser, task_classes)
    except ValueError as error:
        print(f"dni-rnn: error: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(command)
    try:
        if getattr(args, "load_error", None):
            raise ValueError(args.load_error)
        if args.command == "train":
            task_class = task_classes[args.task]
            train_cfg = dataclass_from_args(TrainConfig, args)
            engine_cfg = dataclass_from_args(EngineConfig, args)
            options = dataclass_from_args(task_class.Config, args)
            summary = train(train_cfg, engine_cfg, options, command=command)
            if main_rank:  # one summary from a torchrun job, not one per process
                run_dir = Path(train_cfg.logdir) / summary["run_name"]
                figures = figures_of_merit(summary, task_class.figures_of_merit)
                print(format_report(summary, figures, run_dir, train_cfg.logdir), file=sys.stderr, flush=True)
                print(json.dumps(summary))
        elif args.command == "eval":
            if args.task not in task_classes:
                raise ValueError(f"unknown task {args.task!r}; choose one of {', '.join(sorted(task_classes))}")
            if args.threads < 0:
                raise ValueError(f"--threads must be >= 0, got {args.threads}")
            if args.threads:
                torch.set_num_threads(args.threads)
            options = dataclass_from_args(EvalOptions, args)
            result = evaluate_checkpoint(args.checkpoint, args.task, args.device, options)
            print(f"dni-rnn: {args.task} checkpoint {args.checkpoint} (window {result['window']})", file=sys.stderr)
            print(task_classes[args.task].format_report(result), file=sys.stderr, flush=True)
            print(json.dumps(result))
    except RunInterrupted as stopped:
        if main_rank:
            print(f"dni-rnn: {stopped}", file=sys.stderr)
        return 0
    except NonFiniteError as error:
        if main_rank:
            print(f"dni-rnn: error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"dni-rnn: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
