"""The settings of a training run (``TrainConfig``) and the device they name; tasks import it without the trainer."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from dni_rnn.config import check_fields, option
from dni_rnn.cores import CELLS, RESET_LOOPS

DEVICES = ("auto", "cpu", "cuda")
LR_SCHEDULES = ("constant", "linear", "cosine")


def lr_factor(schedule: str, final: float, window: int, total_windows: int) -> float:
    """The core's learning rate at ``window`` as a fraction of ``--lr``: 1 for constant, else decaying from 1
    at the first window to ``final`` at the last (a pure function of the window: resuming stays exact)."""
    if schedule == "constant" or total_windows <= 1:
        return 1.0
    progress = min(window / (total_windows - 1), 1.0)
    if schedule == "linear":
        return 1.0 - (1.0 - final) * progress
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_device(name: str) -> torch.device:
    """``auto`` -> ``cuda`` when a CUDA device is present, else ``cpu``; any other name as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TrainConfig:
    """A training run. Every field is a ``--flag`` of ``dni-rnn train TASK``; ranges are checked on construction."""

    task: str = option("copy", "Task to train (an entry point of the dni_rnn.tasks group).")
    horizon: int = option(4, "T, time steps per window (the backprop truncation).", low=1)
    steps: int = option(
        100_000,
        "Length of the run in time steps of each stream (samples = steps x batch); counts the total across resumes; a multiple of --horizon (else rounded down, with a note).",
        low=1,
    )
    batch_size: int = option(64, "B, parallel streams.", low=1)
    cell: str = option(
        "lstm",
        "Recurrent cell: lstm, gru, or rtu (recurrent trace units trained by exact RTRL: one layer, raw inputs, "
        "--method bptt).",
        choices=tuple(CELLS),
    )
    hidden: int = option(128, "Hidden units per layer.", low=1)
    layers: int = option(1, "Stacked recurrent layers.", low=1)
    chrono_steps: int = option(
        0,
        "Chrono initialisation (Tallec & Ollivier 2018) of the lstm / gru gate biases for memories up to this many "
        "steps (>= 3): keep-gate bias log u, u ~ U(1, this - 1), a time constant of 2 to this many steps; 0: torch's.",
        low=0,
    )
    sparse_init: float = option(
        0.0,
        "Sparse initialisation (stream-x, Elsayed et al. 2024) of the lstm / gru weights: this fraction of every "
        "unit's input weights, per gate, starts at 0, the rest U(+-1/sqrt(fan_in)); in [0, 1), 0: torch's.",
        low=0.0,
        high=1.0,
    )
    reset_loop: str = option(
        "split",
        "How an lstm / gru window with resets runs: split at its reset steps into fused calls, or compiled: one "
        "torch.compile'd step loop (faster when resets are scattered over the batch, as in RL; equal to float "
        "rounding; compiles once per window length, ~10-40 s on a CPU).",
        choices=RESET_LOOPS,
    )
    seed: int = option(0, "Seed of every random number generator of the run.", low=0, high=2**32 - 1)
    device: str = option("auto", "auto (cuda when present), cpu or cuda.", choices=DEVICES)
    threads: int = option(0, "torch intra-op threads; 0 keeps torch's default.", low=0)
    logdir: str = option("logs", "Directory of the runs; each writes logs/<run-name>/.")
    run_name: str | None = option(
        None, "Name of the run (a single folder name); default {task}__{method}__T{T}__s{seed}__{time}."
    )
    log_every: int = option(100, "Windows between two TensorBoard points.", low=1)
    eval_every: int = option(0, "Windows between two evaluations (tasks that evaluate); 0: only at the end.", low=0)
    checkpoint_every: int = option(
        0, "Windows between two checkpoints; 0: only at the end (and on SIGTERM / Ctrl-C).", low=0
    )
    patience: int = option(
        0, "Stop after this many evaluations without improving the task's best metric; 0: never.", low=0
    )
    resume: str | None = option(
        None,
        "Checkpoint to continue from, or 'auto': <logdir>/<run-name>/checkpoint.pt when it exists, else start afresh.",
    )
    branch_from: str | None = option(
        None,
        "Start from another run's checkpoint (weights, optimiser moments, task state, carried state, RNGs, window count) with this run's settings, e.g. --sg-scale 0 from a plateau: a controlled comparison from one point of a run. Task, batch and horizon must match; resuming the branch continues its own checkpoint.",
    )
    overwrite: bool = option(
        False, "Start afresh even if <logdir>/<run-name>/ holds a checkpoint (deleting it and the run's events)."
    )
    progress: bool = option(True, "Show a progress bar on the terminal.")
    lr_schedule: str = option(
        "constant",
        "Learning rate of the core over the run: constant, linear or cosine decay to lr x --lr-final.",
        choices=LR_SCHEDULES,
    )
    lr_final: float = option(
        0.1, "With a decaying --lr-schedule, the last window's learning rate as a fraction of --lr.", low=0.0, high=1.0
    )

    def __post_init__(self):
        check_fields(self)
        if self.steps < self.horizon:
            raise ValueError(f"--steps ({self.steps}) must be at least one window (--horizon {self.horizon})")
        if self.run_name is not None:
            name = self.run_name
            if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
                raise ValueError(
                    f"--run-name {name!r} must be a single folder name inside --logdir (no '/', not '.' or '..')"
                )
        if self.chrono_steps in (1, 2):  # checked here too, before a run directory is opened
            raise ValueError(f"--chrono-steps must be 0 (off) or >= 3, got {self.chrono_steps}")
        if self.chrono_steps and self.cell == "rtu":
            raise ValueError("--chrono-steps initialises lstm and gru gates; the rtu cell has none")
        if not self.sparse_init < 1:
            raise ValueError(
                f"--sparse-init must be < 1 (a core with no weights learns nothing), got {self.sparse_init}"
            )
        if self.sparse_init and self.cell == "rtu":
            raise ValueError("--sparse-init initialises lstm and gru weights; the rtu cell has its own initialisation")
        if self.reset_loop != "split" and self.cell == "rtu":
            raise ValueError("--reset-loop compiled runs lstm and gru cells; the rtu cell steps on its own")
        if self.resume is not None and self.overwrite:
            raise ValueError("--resume and --overwrite contradict each other; give one")
        if self.branch_from is not None and self.resume not in (None, "auto"):
            raise ValueError("--branch-from and --resume PATH contradict each other; give one")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but no CUDA device is available; use --device auto or cpu")
