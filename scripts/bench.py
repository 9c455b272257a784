"""Benchmark the window engine against a hand-written truncated-BPTT loop and against M's own work.

    python -m scripts.bench --quick              # LSTM H=256 B=64 at T=8 and T=2 (+ scattered resets), < 2 min
    python -m scripts.bench                      # the full grid, writes results/bench.json
    python -m scripts.bench --quick --count-ops  # aten ops, copies, allocations, host syncs per window (no timing)
    python -m scripts.bench --quick --profile    # the ops that take the time: self CPU us per window (profiler)

Every mode prints one JSON record per line on stdout (a Markdown table goes to stderr).

Timing: for every configuration, each learner's training window (forward, backward, optimiser steps,
carried state) is timed in turn, round after round, in one process, so that a noisy machine slows all
of them alike; a record gives the median window time over rounds, its spread (interquartile range), and
the median over rounds of the per-round ratio to the hand-written loop. The hand-written loop is what a
practitioner writes: ``nn.LSTM``/``nn.GRU`` over the window, a linear readout, loss, backward, clip,
Adam, detach. The engine runs the same model, loss and optimiser (``bptt``, ``dni``, ``dni_aux`` and
``dni_aux_steps``, the aux head at every step). **The floor**: ``m_alone`` is M's own work in a ``dni``
window (its two ``[B, S] x [S, S]`` products, its regression's backward, clipping and Adam step) timed alone
in the same rounds; ``floor_ratio`` = median over rounds of ``(tbptt + m_alone) / tbptt`` is what a
perfect engine would score if the two pieces cost in one window what they cost apart, and ``above_floor`` =
``ratio_to_tbptt - floor_ratio``. They do not: ``hand_dni`` is the shortest correct DNI window written by hand
(:class:`HandWrittenDNI`), and ``ratio_to_hand_dni`` is, for ``dni``, the engine's own glue against it (for
``dni_aux``, what the aux head costs on top of a hand-written ``dni``). ``tbptt_grad_s0`` is the hand-written
loop whose backward also computes the gradient at the window's start state, which M's target needs;
``floor_grad_s0_ratio`` adds ``m_alone`` to it, and for ``dni_aux`` also ``aux_alone``, the pooled aux head's own
work (:class:`AuxHeadAlone`). The engine is timed as the training loop
steps it between log windows (``collect_metrics=False``); the order of the learners is reversed every other
round, so that no learner always runs after the same one. With scattered resets, ``ratio_to_reset_free``
compares the same learner on the same windows without resets; a ``+compiled_loop`` learner runs the windows with
resets as one compiled step loop (``--reset-loop compiled``, :mod:`dni_rnn.cell_loop`) instead of split fused calls
(its warm-up round compiles it).

Op counts (``--count-ops``) do not depend on the machine's load: an ``OpCounter`` (a ``TorchDispatchMode``)
sees every aten op that reaches a kernel, forward, backward and optimisers (a fused RNN kernel is one op).

Profile (``--profile``): ``torch.profiler`` over a few windows of each learner after a warm-up; a record gives the
learner's total self CPU time per window and its top ops by self CPU time (us per window). Like timings, it needs a
machine with nothing else running.

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
from collections import Counter
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from dni_rnn.cores import make_core
from dni_rnn.engine import EngineConfig, Window, WindowEngine

ENGINE_METHODS = {
    "bptt": {"method": "bptt"},
    "dni": {"method": "dni"},
    "dni_aux": {"method": "dni_aux"},  # the pooled aux head, --aux-pooling mean (the default)
    "dni_aux_steps": {"method": "dni_aux", "aux_pooling": "steps"},  # the head at every step
}
RESET_FREE = "+reset_free"  # suffix: the same learner on the same windows with their resets removed
COMPILED_LOOP = "+compiled_loop"  # suffix: the engine's core runs windows with resets as one compiled step loop


class ReadoutMSE(nn.Module):
    def __init__(self, hidden: int, out: int):
        super().__init__()
        self.readout = nn.Linear(hidden, out)

    def forward(self, outputs, window):
        return (self.readout(outputs) - window.targets).pow(2).mean(), {}


class HandWrittenTBPTT:
    """The baseline: the shortest correct truncated-BPTT training loop over a fused torch RNN."""

    def __init__(self, cell: str, features: int, hidden: int, layers: int, out: int, lr: float, grad_at_start=False):
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.grad_at_start = grad_at_start  # the backward also computes d loss / d s_0, as DNI's must
        self.rnn, self.readout = rnn_class(features, hidden, layers), nn.Linear(hidden, out)
        self.params = list(self.rnn.parameters()) + list(self.readout.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=lr, fused=True)  # the fastest Adam torch has
        self.is_lstm = cell == "lstm"

    def initial_state(self, batch: int):
        h = torch.zeros(self.rnn.num_layers, batch, self.rnn.hidden_size)
        return (h, h.clone()) if self.is_lstm else h

    def step(self, window: Window, state):
        if self.grad_at_start:
            state = tuple(s.requires_grad_(True) for s in state) if self.is_lstm else state.requires_grad_(True)
        outputs, state = self.rnn(window.inputs, state)
        loss = (self.readout(outputs) - window.targets).pow(2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        return (tuple(s.detach() for s in state) if self.is_lstm else state.detach()), {}


class HandWrittenDNI(HandWrittenTBPTT):
    """The shortest correct DNI window a practitioner writes on top of :class:`HandWrittenTBPTT`: ``s_0`` a leaf,
    a linear ``M`` on ``[h, c]`` whose prediction at ``s_T`` (scale 0.1, tied discount) is handed to autograd as
    ``s_T``'s gradient, ``delta_0`` read from ``s_0.grad``, ``M`` regressed on it (clip, fused Adam). LSTM only."""

    def __init__(self, cell: str, features: int, hidden: int, layers: int, out: int, lr: float, scale: float = 0.1):
        if cell != "lstm":
            raise ValueError(f"HandWrittenDNI is an LSTM's window, got cell {cell!r}")
        super().__init__(cell, features, hidden, layers, out, lr)
        self.module = nn.Linear(2 * hidden * layers, 2 * hidden * layers)
        self.sg_params = list(self.module.parameters())
        self.sg_optimizer = torch.optim.Adam(self.sg_params, lr=1e-3, fused=True)
        self.scale = scale

    def step(self, window: Window, state):
        h0, c0 = (s.detach().requires_grad_(True) for s in state)
        outputs, (h, c) = self.rnn(window.inputs, (h0, c0))
        loss = (self.readout(outputs) - window.targets).pow(2).mean()
        batch = h.shape[1]
        with torch.no_grad():
            injected = self.module(
                torch.cat([h.transpose(0, 1).reshape(batch, -1), c.transpose(0, 1).reshape(batch, -1)], -1)
            )
            injected = injected.mul_(self.scale / batch).view(batch, 2, h.shape[0], h.shape[2]).permute(1, 2, 0, 3)
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward([loss, h, c], [None, injected[0], injected[1]])
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        flat = torch.cat([h0.transpose(0, 1).reshape(batch, -1), c0.transpose(0, 1).reshape(batch, -1)], -1).detach()
        delta = torch.cat([h0.grad.transpose(0, 1).reshape(batch, -1), c0.grad.transpose(0, 1).reshape(batch, -1)], -1)
        sg_loss = (self.module(flat) - delta * batch).pow(2).sum(-1).mean()
        self.sg_optimizer.zero_grad(set_to_none=True)
        sg_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.sg_params, 1.0)
        self.sg_optimizer.step()
        return (h.detach(), c.detach()), {}


class EngineHotPath:
    """A :class:`WindowEngine` stepped as the training loop steps it between two log windows
    (``collect_metrics=False``: the logged-only metrics are not computed)."""

    def __init__(self, engine: WindowEngine):
        self.engine = engine

    def initial_state(self, batch: int):
        return self.engine.initial_state(batch)

    def step(self, window: Window, state):
        return self.engine.step(window, state, collect_metrics=False)


class SyntheticGradientAlone:
    """The floor: M's own work in one ``dni`` window and nothing else. A linear ``M`` ``[S] -> [S]`` predicts at
    ``s_T`` (no grad) and at ``s_0`` (in its graph), regresses on a target, backward, clip, fused Adam."""

    def __init__(self, state_size: int, batch: int, lr: float = 1e-3):
        gen = torch.Generator().manual_seed(1)
        self.module = nn.Linear(state_size, state_size)
        self.params = list(self.module.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=lr, fused=True)
        self.start, self.final, self.target = (torch.randn(batch, state_size, generator=gen) for _ in range(3))

    def initial_state(self, batch: int):
        return None

    def step(self, window: Window, state):
        with torch.no_grad():
            self.module(self.final)  # M(s_T), injected
        loss = (self.module(self.start) - self.target).pow(2).sum(-1).mean()  # M(s_0) against delta_0
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        return state, {}


class AuxHeadAlone:
    """The aux head's own work in a ``dni_aux`` window (``--aux-pooling mean``) and nothing else: the window's
    outputs ``[T, B, H]`` averaged, a linear head ``[H] -> [S]``, its squared error against ``M(s_T)``, the
    backward into the head and into the outputs, fused Adam on the head."""

    def __init__(self, horizon: int, batch: int, hidden: int, state_size: int, lr: float = 1e-4):
        gen = torch.Generator().manual_seed(2)
        self.head = nn.Linear(hidden, state_size)
        self.optimizer = torch.optim.Adam(self.head.parameters(), lr=lr, fused=True)
        self.outputs = torch.randn(horizon, batch, hidden, generator=gen).requires_grad_(True)
        self.target = torch.randn(batch, state_size, generator=gen)

    def initial_state(self, batch: int):
        return None

    def step(self, window: Window, state):
        self.outputs.grad = None
        pooled = self.outputs.mean(0)
        loss = nn.functional.mse_loss(self.head(pooled), self.target, reduction="sum") / pooled.shape[0]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return state, {}


class OpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched while active (forward, autograd's backward, optimisers) and classifies them."""

    COPIES = ("copy_", "_to_copy", "clone", "cat", "stack")  # ops whose work is moving bytes
    SYNCS = ("_local_scalar_dense", "item", "is_nonzero", "nonzero", "equal")  # ops that wait for the device
    MARKERS = ("_record_function_enter_new", "_record_function_exit")  # profiler annotations, not work

    def __init__(self):
        super().__init__()
        self.ops: Counter[str] = Counter()
        self.views = self.allocations = self.dtype_conversions = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__
        self.ops[name] += 1
        aliased = [r.alias_info is not None for r in func._schema.returns]
        if aliased and all(aliased) and not name.endswith("_") and "out" not in kwargs:
            self.views += 1
        if "out" not in kwargs:  # a fresh output is an allocation; views and in-place ops reuse storage
            self.allocations += aliased.count(False)
        if name == "_to_copy" and kwargs.get("dtype") not in (None, args[0].dtype):
            self.dtype_conversions += 1
        return out

    def summary(self, windows: int) -> dict:
        total = sum(count for name, count in self.ops.items() if name not in self.MARKERS)
        return {
            "ops": total / windows,
            "kernel_ops": (total - self.views) / windows,  # ops that compute or move data: not views
            "copies": sum(self.ops[name] for name in self.COPIES) / windows,
            "dtype_conversions": self.dtype_conversions / windows,
            "allocations": self.allocations / windows,
            "host_syncs": sum(self.ops[name] for name in self.SYNCS) / windows,
            "top_ops": {n: c / windows for n, c in self.ops.most_common(12) if n not in self.MARKERS},
        }


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


def make_learners(cell, hidden, layers, batch, features, out, methods, horizon=8):
    torch.manual_seed(0)
    state_width = hidden * layers * (2 if cell == "lstm" else 1)  # M's S: h (and c) of every layer
    learners = {}
    for name in methods:
        method = name.removesuffix(RESET_FREE).removesuffix(COMPILED_LOOP)
        if method == "tbptt":
            learners[name] = HandWrittenTBPTT(cell, features, hidden, layers, out, lr=1e-4)
        elif method == "tbptt_grad_s0":
            learners[name] = HandWrittenTBPTT(cell, features, hidden, layers, out, lr=1e-4, grad_at_start=True)
        elif method == "hand_dni":
            learners[name] = HandWrittenDNI(cell, features, hidden, layers, out, lr=1e-4)
        elif method == "aux_alone":
            learners[name] = AuxHeadAlone(horizon, batch, hidden, state_width)
        elif method == "m_alone":
            learners[name] = SyntheticGradientAlone(state_width, batch)
        else:
            core = make_core(
                cell, features, hidden, layers, reset_loop="compiled" if COMPILED_LOOP in name else "split"
            )
            engine = WindowEngine(core, ReadoutMSE(hidden, out), EngineConfig(lr=1e-4, **ENGINE_METHODS[method]))
            learners[name] = EngineHotPath(engine)
    return learners


def windows_for(name: str, windows: list[Window]) -> list[Window]:
    return [w._replace(resets=None) for w in windows] if name.endswith(RESET_FREE) else windows


def describe(cell, hidden, layers, batch, horizon, reset_every, method) -> dict:
    return {
        "cell": cell,
        "hidden": hidden,
        "layers": layers,
        "batch": batch,
        "horizon": horizon,
        "method": method,
        "resets": bool(reset_every),
        "threads": torch.get_num_threads(),
    }


def time_methods(
    cell, hidden, layers, batch, horizon, rounds, windows_per_round, methods, reset_every=0, features=32, out=32
) -> list[dict]:
    learners = make_learners(cell, hidden, layers, batch, features, out, methods, horizon)
    windows = make_windows(windows_per_round, horizon, batch, features, out, reset_every)
    states = {m: learner.initial_state(batch) for m, learner in learners.items()}
    times = {m: [] for m in methods}
    for round_index in range(rounds + 1):  # round 0 warms up; every other round runs the learners backwards
        for method, learner in list(learners.items())[:: 1 if round_index % 2 else -1]:
            started = time.perf_counter()
            for window in windows_for(method, windows):
                states[method], _ = learner.step(window, states[method])
            if round_index:
                times[method].append((time.perf_counter() - started) / len(windows) * 1e3)

    def median_ratio(top, bottom):
        return statistics.median(t / b for t, b in zip(top, bottom))

    records = []
    for method in methods:
        q = statistics.quantiles(times[method], n=4) if len(times[method]) > 1 else [times[method][0]] * 3
        record = describe(cell, hidden, layers, batch, horizon, reset_every, method)
        record.update(
            {
                "window_ms": statistics.median(times[method]),
                "window_ms_iqr": q[2] - q[0],
                "ratio_to_tbptt": median_ratio(times[method], times["tbptt"]),
                "rounds": rounds,
                "windows_per_round": windows_per_round,
            }
        )
        if method.startswith("dni") and "m_alone" in times:
            floor = [t + m for t, m in zip(times["tbptt"], times["m_alone"])]
            record["floor_ratio"] = median_ratio(floor, times["tbptt"])
            record["above_floor"] = record["ratio_to_tbptt"] - record["floor_ratio"]
            if "tbptt_grad_s0" in times:  # the floor with the gradient at s_0 that M's target needs
                parts = [times["tbptt_grad_s0"], times["m_alone"]]
                if method == "dni_aux" and "aux_alone" in times:  # and the pooled aux head's own work
                    parts.append(times["aux_alone"])
                record["floor_grad_s0_ratio"] = median_ratio([sum(round_) for round_ in zip(*parts)], times["tbptt"])
        if method.startswith("dni") and "hand_dni" in times:
            record["ratio_to_hand_dni"] = median_ratio(times[method], times["hand_dni"])
        reset_free = method.removesuffix(COMPILED_LOOP) + RESET_FREE
        if reset_free in times and method != reset_free:
            record["ratio_to_reset_free"] = median_ratio(times[method], times[reset_free])
        records.append(record)
    return records


def warmed_up(cell, hidden, layers, batch, horizon, methods, reset_every, windows, warmup, features, out):
    """Yield ``(method, learner, state, windows left)`` for every learner after ``warmup`` windows (so that
    optimiser state exists), for the op counts and the profile."""
    learners = make_learners(cell, hidden, layers, batch, features, out, methods, horizon)
    stream = make_windows(windows, horizon, batch, features, out, reset_every)
    for method, learner in learners.items():
        state = learner.initial_state(batch)
        mine = windows_for(method, stream)
        for window in mine[:warmup]:
            state, _ = learner.step(window, state)
        yield method, learner, state, mine[warmup:]


def count_methods(
    cell, hidden, layers, batch, horizon, methods, reset_every=0, windows=6, warmup=2, features=32, out=32
) -> list[dict]:
    """Per-window op counts of every learner (after ``warmup`` windows)."""
    records = []
    setting = (cell, hidden, layers, batch, horizon, methods, reset_every, windows, warmup, features, out)
    for method, learner, state, measured in warmed_up(*setting):
        with OpCounter() as counter:
            for window in measured:
                state, _ = learner.step(window, state)
        record = describe(cell, hidden, layers, batch, horizon, reset_every, method)
        records.append({**record, **counter.summary(len(measured))})
    return records


def profile_methods(
    cell, hidden, layers, batch, horizon, methods, reset_every=0, windows=40, warmup=10, features=32, out=32, top=12
) -> list[dict]:
    """Per-window self CPU time of every learner's ops under ``torch.profiler`` (after ``warmup`` windows)."""
    from torch.profiler import ProfilerActivity, profile

    records = []
    setting = (cell, hidden, layers, batch, horizon, methods, reset_every, windows, warmup, features, out)
    for method, learner, state, measured in warmed_up(*setting):
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            for window in measured:
                state, _ = learner.step(window, state)
        events = [e for e in profiler.key_averages() if not e.key.startswith(("ProfilerStep", "[memory]"))]
        self_us = sorted(((e.key, e.self_cpu_time_total / len(measured)) for e in events), key=lambda kv: -kv[1])
        record = describe(cell, hidden, layers, batch, horizon, reset_every, method)
        record["self_cpu_us"] = sum(us for _, us in self_us)
        record["top_self_cpu_us"] = {name: round(us, 1) for name, us in self_us[:top]}
        records.append(record)
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
    config = "| cell | H | layers | B | T | resets | method |"
    lines = [
        config + " window ms (IQR) | ratio to hand-written | floor | floor with d/ds_0 | ratio to hand-written DNI |"
        " ratio to reset-free |",
        "|---" * 13 + "|",
    ]
    counts = [config + " ops | kernel ops | copies | dtype conv. | allocations | host syncs |", "|---" * 13 + "|"]
    for r in records:
        if "peak_bytes" in r:  # the memory table below
            continue
        row = (
            f"| {r['cell']} | {r['hidden']} | {r['layers']} | {r['batch']} | {r['horizon']} | "
            f"{'yes' if r['resets'] else 'no'} | {r['method']} |"
        )
        if "window_ms" in r:
            cells = [
                r.get(k) for k in ("floor_ratio", "floor_grad_s0_ratio", "ratio_to_hand_dni", "ratio_to_reset_free")
            ]
            lines.append(
                f"{row} {r['window_ms']:.2f} ({r['window_ms_iqr']:.2f}) | {r['ratio_to_tbptt']:.3f} | "
                + " | ".join("" if value is None else f"{value:.3f}" for value in cells)
                + " |"
            )
        elif "kernel_ops" in r:
            counts.append(
                f"{row} {r['ops']:.0f} | {r['kernel_ops']:.0f} | {r['copies']:.0f} | "
                f"{r['dtype_conversions']:.0f} | {r['allocations']:.0f} | {r['host_syncs']:.0f} |"
            )
    profiles = [config + " self CPU us per window | top ops (us per window) |", "|---" * 9 + "|"]
    for r in records:
        if "self_cpu_us" in r:
            top = ", ".join(f"{name} {us:.0f}" for name, us in list(r["top_self_cpu_us"].items())[:5])
            profiles.append(
                f"| {r['cell']} | {r['hidden']} | {r['layers']} | {r['batch']} | {r['horizon']} | "
                f"{'yes' if r['resets'] else 'no'} | {r['method']} | {r['self_cpu_us']:.0f} | {top} |"
            )
    memory = [r for r in records if "peak_bytes" in r]
    tables = [lines] if len(lines) > 2 else []
    tables += [counts] if len(counts) > 2 else []
    tables += [profiles] if len(profiles) > 2 else []
    if memory:
        tables.append(
            ["| method | stream steps | peak memory (MiB) |", "|---|---|---|"]
            + [f"| {r['method']} | {r['stream_steps']} | {r['peak_bytes'] / 2**20:.1f} |" for r in memory]
        )
    return "\n\n".join("\n".join(table) for table in tables)


METHODS = (
    "tbptt",
    "tbptt_grad_s0",
    "m_alone",
    "aux_alone",
    "hand_dni",
    "bptt",
    "dni",
    "dni_aux",
    "dni_aux_steps",
)
GRU_METHODS = tuple(m for m in METHODS if m != "hand_dni")  # the hand-written DNI window is an LSTM's
RESET_METHODS = ("tbptt",) + tuple(
    name for method in ("bptt", "dni") for name in (method, method + COMPILED_LOOP, method + RESET_FREE)
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="LSTM H=256 B=64 at T=8 and T=2, resets; < 2 min")
    parser.add_argument(
        "--count-ops", action="store_true", help="op counts per window instead of timings (valid on a loaded machine)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="top ops by self CPU time per window (needs an idle machine)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the fairest on a shared machine)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds (default 8 with --quick, else 15)")
    parser.add_argument(
        "--output",
        default=None,
        help="JSON output (default results/bench.json; none with --quick, --count-ops or --profile)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # (cell, hidden, layers, batch, horizon, reset_every, methods)
    grid = [
        ("lstm", 256, 1, 64, 8, 0, METHODS),
        ("lstm", 256, 1, 64, 2, 0, METHODS),
        ("lstm", 256, 1, 64, 8, 8, RESET_METHODS),
    ]  # resets ~1 in 8 steps, scattered over the batch
    rounds, per_round = args.rounds or 8, 10
    memory_grid = [("dni", 1_000), ("dni", 10_000), ("full_bptt", 1_000), ("full_bptt", 10_000)]
    if not args.quick:
        grid = [
            (cell, 256, 1, 64, horizon, 0, METHODS if cell == "lstm" else GRU_METHODS)
            for cell in ("lstm", "gru")
            for horizon in (2, 8, 32)
        ]
        grid += [("lstm", 256, 2, 64, 8, 0, METHODS), ("lstm", 256, 1, 64, 8, 8, RESET_METHODS)]
        rounds, per_round = args.rounds or 15, 20
        memory_grid = [(m, s) for m in ("dni", "full_bptt") for s in (1_000, 10_000, 100_000)]
    records = []
    for cell, hidden, layers, batch, horizon, reset_every, methods in grid:
        if args.profile:
            new = profile_methods(cell, hidden, layers, batch, horizon, methods, reset_every)
        elif args.count_ops:
            new = count_methods(cell, hidden, layers, batch, horizon, methods, reset_every)
        else:
            new = time_methods(cell, hidden, layers, batch, horizon, rounds, per_round, methods, reset_every)
        for record in new:
            print(json.dumps(record), flush=True)
        records += new
    for method, steps in [] if args.count_ops or args.profile else memory_grid:
        record = {
            "method": method,
            "stream_steps": steps,
            "hidden": 64,
            "batch": 8,
            "horizon": 8,
            "peak_bytes": peak_memory(method, steps, hidden=64, batch=8, horizon=8),
        }
        print(json.dumps(record), flush=True)
        records.append(record)
    print(markdown(records), file=sys.stderr)
    output = args.output or (None if args.quick or args.count_ops or args.profile else "results/bench.json")
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(records, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
