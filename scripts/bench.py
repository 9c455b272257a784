"""Benchmark the window engine against a hand-written truncated-BPTT loop, and memory against full BPTT.

    python -m scripts.bench            # the full grid, writes results/bench.json and prints a Markdown table
    python -m scripts.bench --quick    # one small configuration, under a minute

Timing: for every configuration, each method's training window (forward, backward, optimiser steps,
carried state) is timed in turn, round after round, in one process, so that a noisy machine slows all
of them alike; the report gives the median window time over rounds, its spread (interquartile range),
and the median over rounds of the per-round ratio to the hand-written loop. The hand-written loop is
what a practitioner writes: ``nn.LSTM``/``nn.GRU`` over the window, a linear readout, loss, backward,
clip, Adam, detach. The engine runs the same model, loss and optimiser (``bptt``, ``dni``, ``dni_aux``).

Memory: peak resident memory of a fresh process that trains on a stream of S steps, for the window
engine (``dni``) and for full BPTT over the whole stream (one backward at the end), S = 1e3..1e5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from dni_rnn.cores import make_core
from dni_rnn.engine import EngineConfig, Window, WindowEngine


class ReadoutMSE(nn.Module):
    def __init__(self, hidden: int, out: int):
        super().__init__()
        self.readout = nn.Linear(hidden, out)

    def forward(self, outputs, window):
        return (self.readout(outputs) - window.targets).pow(2).mean(), {}


class HandWrittenTBPTT:
    """The baseline: the shortest correct truncated-BPTT training loop over a fused torch RNN."""

    def __init__(self, cell: str, features: int, hidden: int, layers: int, out: int, lr: float):
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn, self.readout = rnn_class(features, hidden, layers), nn.Linear(hidden, out)
        self.params = list(self.rnn.parameters()) + list(self.readout.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=lr, fused=True)  # the fastest Adam torch has
        self.is_lstm = cell == "lstm"

    def initial_state(self, batch: int):
        h = torch.zeros(self.rnn.num_layers, batch, self.rnn.hidden_size)
        return (h, h.clone()) if self.is_lstm else h

    def step(self, window: Window, state):
        outputs, state = self.rnn(window.inputs, state)
        loss = (self.readout(outputs) - window.targets).pow(2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        return (tuple(s.detach() for s in state) if self.is_lstm else state.detach()), {}


def make_windows(count: int, horizon: int, batch: int, features: int, out: int, reset_every: int = 0):
    gen = torch.Generator().manual_seed(0)
    windows = []
    for _ in range(count):
        resets = None
        if reset_every:
            resets = torch.rand(horizon, batch, generator=gen) < 1.0 / reset_every
        windows.append(
            Window(
                torch.randn(horizon, batch, features, generator=gen),
                torch.randn(horizon, batch, out, generator=gen),
                None,
                resets,
                torch.zeros(batch, dtype=torch.bool),
            )
        )
    return windows


def time_methods(
    cell,
    hidden,
    layers,
    batch,
    horizon,
    rounds,
    windows_per_round,
    features=32,
    out=32,
    methods=("tbptt", "bptt", "dni", "dni_aux"),
    reset_every=0,
) -> list[dict]:
    torch.manual_seed(0)
    learners = {}
    for method in methods:
        if method == "tbptt":
            learners[method] = HandWrittenTBPTT(cell, features, hidden, layers, out, lr=1e-4)
        else:
            core = make_core(cell, features, hidden, layers)
            learners[method] = WindowEngine(core, ReadoutMSE(hidden, out), EngineConfig(method=method, lr=1e-4))
    windows = make_windows(windows_per_round, horizon, batch, features, out, reset_every)
    states = {m: learner.initial_state(batch) for m, learner in learners.items()}
    times = {m: [] for m in methods}
    for round_index in range(rounds + 1):  # round 0 warms up
        for method, learner in learners.items():
            started = time.perf_counter()
            for window in windows:
                states[method], _ = learner.step(window, states[method])
            if round_index:
                times[method].append((time.perf_counter() - started) / len(windows) * 1e3)
    baseline = "tbptt" if "tbptt" in methods else methods[0]
    records = []
    for method in methods:
        ratios = [t / b for t, b in zip(times[method], times[baseline])]
        q = statistics.quantiles(times[method], n=4) if len(times[method]) > 1 else [times[method][0]] * 3
        records.append(
            {
                "cell": cell,
                "hidden": hidden,
                "layers": layers,
                "batch": batch,
                "horizon": horizon,
                "method": method,
                "resets": bool(reset_every),
                "window_ms": statistics.median(times[method]),
                "window_ms_iqr": q[2] - q[0],
                "ratio_to_tbptt": statistics.median(ratios),
                "rounds": rounds,
                "windows_per_round": windows_per_round,
                "threads": torch.get_num_threads(),
            }
        )
    return records


def peak_memory(method: str, stream_steps: int, hidden: int, batch: int, horizon: int) -> int:
    """Peak RSS (bytes) of a fresh process training on ``stream_steps`` steps, minus its RSS before training."""
    code = f"""
import resource, torch
from scripts.bench import ReadoutMSE, make_windows
from dni_rnn.cores import make_core
from dni_rnn.engine import EngineConfig, Window, WindowEngine
torch.set_num_threads(1)
features = 8
core = make_core("lstm", features, {hidden}, 1)
loss = ReadoutMSE({hidden}, features)
gen = torch.Generator().manual_seed(0)
inputs = torch.randn({stream_steps}, {batch}, features, generator=gen)
targets = torch.randn({stream_steps}, {batch}, features, generator=gen)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if "{method}" == "full_bptt":
    outputs, _ = core(inputs, core.initial_state({batch}))
    loss(outputs, Window(inputs, targets))[0].backward()
else:
    engine = WindowEngine(core, loss, EngineConfig(method="{method}"))
    state = engine.initial_state({batch})
    for start in range(0, {stream_steps}, {horizon}):
        window = Window(inputs[start:start + {horizon}], targets[start:start + {horizon}])
        state, _ = engine.step(window, state)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(result.stdout.strip()) * 1024  # ru_maxrss is in KiB on Linux


def markdown(records: list[dict]) -> str:
    lines = [
        "| cell | H | layers | B | T | resets | method | window ms (IQR) | ratio to hand-written TBPTT |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        if "window_ms" in r:
            lines.append(
                f"| {r['cell']} | {r['hidden']} | {r['layers']} | {r['batch']} | {r['horizon']} | "
                f"{'yes' if r['resets'] else 'no'} | {r['method']} | {r['window_ms']:.2f} ({r['window_ms_iqr']:.2f}) | "
                f"{r['ratio_to_tbptt']:.3f} |"
            )
    memory = [r for r in records if "peak_bytes" in r]
    if memory:
        lines += ["", "| method | stream steps | peak memory (MiB) |", "|---|---|---|"]
        lines += [f"| {r['method']} | {r['stream_steps']} | {r['peak_bytes'] / 2**20:.1f} |" for r in memory]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small configuration, under a minute")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the fairest on a shared machine)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", default=None, help="JSON output (default results/bench.json; none with --quick)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    records = []
    if args.quick:
        grid = [("lstm", 64, 1, 16, 8, 0)]
        rounds, per_round = 5, 10
        memory_grid = [("dni", 1_000), ("dni", 10_000), ("full_bptt", 1_000), ("full_bptt", 10_000)]
    else:
        grid = [(cell, 256, 1, 64, horizon, 0) for cell in ("lstm", "gru") for horizon in (2, 8, 32)]
        grid += [("lstm", 256, 2, 64, 8, 0), ("lstm", 256, 1, 64, 8, 8)]  # two layers; resets every ~8 steps
        rounds, per_round = args.rounds, 20
        memory_grid = [(m, s) for m in ("dni", "full_bptt") for s in (1_000, 10_000, 100_000)]
    for cell, hidden, layers, batch, horizon, reset_every in grid:
        records += time_methods(cell, hidden, layers, batch, horizon, rounds, per_round, reset_every=reset_every)
        print(markdown(records[-4:]).splitlines()[-4:], file=sys.stderr, flush=True)
    for method, steps in memory_grid:
        records.append(
            {
                "method": method,
                "stream_steps": steps,
                "hidden": 64,
                "batch": 8,
                "horizon": 8,
                "peak_bytes": peak_memory(method, steps, hidden=64, batch=8, horizon=8),
            }
        )
    for record in records:
        print(json.dumps(record))
    print(markdown(records))
    output = args.output or (None if args.quick else "results/bench.json")
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(records, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
