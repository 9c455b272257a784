"""Does ``torch.compile`` of M's glue buy anything on this CPU? Timed beside the eager hand-written DNI window.

    python -m scripts.bench_compile                  # LSTM H=256 B=64; T = 8 and 2; ~1 min with compiling

``hand_dni_compiled`` is :class:`scripts.bench.HandWrittenDNI` with M's two pieces of boundary work as two
compiled functions: the injection (flatten ``[h, c]``, M's product, scale, unflatten) and M's whole update (its
product at ``s_0``, the squared-error gradient written out, clipping and Adam written out, in place), so inductor
can fuse the small ops that eager runs one kernel each. The script first checks that it trains what ``hand_dni``
trains (to float rounding), then times both against the hand-written TBPTT loop.

(The other use of ``torch.compile``, a step loop for windows with scattered resets, is in the toolkit:
``--reset-loop compiled``, timed by ``python -m scripts.bench --quick`` as the ``+compiled_loop`` learners.)

Timing as in :mod:`scripts.bench`: interleaved rounds in one process, the order reversed every other round,
the median over rounds of the per-round ratio to ``tbptt``. One JSON record per line on stdout. Needs a machine
with nothing else running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from scripts.bench import HandWrittenDNI, HandWrittenTBPTT, make_windows

BETAS, EPS = (0.9, 0.999), 1e-8


def flatten_hc(h, c):
    """``[layers, B, H]`` twice -> ``[B, 2 * layers * H]``, as the engine and ``HandWrittenDNI`` flatten."""
    batch = h.shape[1]
    return torch.cat([h.transpose(0, 1).reshape(batch, -1), c.transpose(0, 1).reshape(batch, -1)], -1)


def inject(weight, bias, h, c, scale: float):
    """M's prediction at ``s_T``, scaled by ``scale / B`` and unflattened into ``h``'s and ``c``'s gradients."""
    batch = h.shape[1]
    injected = torch.addmm(bias, flatten_hc(h, c), weight.t()) * (scale / batch)
    injected = injected.view(batch, 2, h.shape[0], h.shape[2]).permute(1, 2, 0, 3)
    return injected[0], injected[1]


def update(weight, bias, avg_w, avg_b, sq_w, sq_b, step, h0, c0, gh0, gc0, lr: float, clip: float):
    """M's regression step, in place: ``sum_b ||M(s_0) - delta_0||^2 / B``, its gradient, clipping, Adam.

    ``step`` is a 0-d float tensor (Adam's step count, incremented here) so the compiled graph does not
    recompile as it grows."""
    batch = h0.shape[1]
    flat, delta = flatten_hc(h0, c0), flatten_hc(gh0, gc0) * batch
    residual = torch.addmm(bias, flat, weight.t()) - delta  # (B, S)
    grad_w, grad_b = (2.0 / batch) * residual.t() @ flat, (2.0 / batch) * residual.sum(0)
    norm = torch.sqrt(grad_w.pow(2).sum() + grad_b.pow(2).sum())
    factor = torch.clamp(clip / (norm + 1e-6), max=1.0)  # clip_grad_norm_'s rule
    step.add_(1.0)
    correction1, correction2 = 1 - BETAS[0] ** step, 1 - BETAS[1] ** step
    for param, avg, sq, grad in ((weight, avg_w, sq_w, grad_w * factor), (bias, avg_b, sq_b, grad_b * factor)):
        avg.lerp_(grad, 1 - BETAS[0])
        sq.mul_(BETAS[1]).addcmul_(grad, grad, value=1 - BETAS[1])
        denom = (sq.sqrt() / torch.sqrt(correction2)).add_(EPS)
        param.addcdiv_(avg, denom * (correction1 / lr), value=-1.0)


class CompiledGlueDNI(HandWrittenDNI):
    """:class:`HandWrittenDNI` with M's injection and M's update as two compiled functions (eager otherwise)."""

    def __init__(self, *args, compile_fn=torch.compile, **kwargs):
        super().__init__(*args, **kwargs)
        self.inject, self.update = compile_fn(inject), compile_fn(update)
        weight, bias = self.module.weight, self.module.bias
        self.moments = [
            torch.zeros_like(weight),
            torch.zeros_like(bias),
            torch.zeros_like(weight),
            torch.zeros_like(bias),
        ]
        self.count = torch.zeros(())

    def step(self, window, state):
        h0, c0 = (s.detach().requires_grad_(True) for s in state)
        outputs, (h, c) = self.rnn(window.inputs, (h0, c0))
        loss = (self.readout(outputs) - window.targets).pow(2).mean()
        with torch.no_grad():
            grad_h, grad_c = self.inject(self.module.weight, self.module.bias, h, c, self.scale)
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward([loss, h, c], [None, grad_h, grad_c])
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        with torch.no_grad():
            weight, bias = self.module.weight, self.module.bias
            self.update(weight, bias, *self.moments, self.count, h0, c0, h0.grad, c0.grad, 1e-3, 1.0)
        return (h.detach(), c.detach()), {}


def check_same_training(windows, hidden=64, features=32, out=32) -> float:
    """Largest absolute difference of M's weights between ``hand_dni`` and ``hand_dni_compiled`` after training on
    ``windows`` from the same initialisation (float rounding apart, they must agree)."""
    learners = []
    for cls in (HandWrittenDNI, CompiledGlueDNI):
        torch.manual_seed(0)
        learners.append(cls("lstm", features, hidden, 1, out, lr=1e-4))
    states = [learner.initial_state(windows[0].inputs.shape[1]) for learner in learners]
    for window in windows:
        states = [learner.step(window, state)[0] for learner, state in zip(learners, states)]
    eager, compiled = (learner.module.weight.detach() for learner in learners)
    return float((eager - compiled).abs().max() / eager.abs().max())


def time_learners(learners: dict, windows_by_name: dict, rounds: int) -> dict[str, list[float]]:
    states = {name: learner.initial_state(64) for name, learner in learners.items()}
    times = {name: [] for name in learners}
    for round_index in range(rounds + 1):  # round 0 warms up (and compiles)
        for name, learner in list(learners.items())[:: 1 if round_index % 2 else -1]:
            started = time.perf_counter()
            for window in windows_by_name[name]:
                states[name], _ = learner.step(window, states[name])
            if round_index:
                times[name].append((time.perf_counter() - started) / len(windows_by_name[name]) * 1e3)
    return times


def records(times: dict, base: str, setting: dict) -> list[dict]:
    out = []
    for name, values in times.items():
        ratio = statistics.median(t / b for t, b in zip(values, times[base]))
        quartiles = statistics.quantiles(values, n=4)
        out.append(
            {
                **setting,
                "learner": name,
                "window_ms": statistics.median(values),
                "window_ms_iqr": quartiles[2] - quartiles[0],
                f"ratio_to_{base}": ratio,
            }
        )
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="timing rounds after the warm-up (>= 2)")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error(f"--rounds must be >= 2, got {args.rounds}")
    torch.set_num_threads(1)
    hidden, batch, features, out = 256, 64, 32, 32
    drift = check_same_training(make_windows(6, 4, 8, features, out))
    print(json.dumps({"check": "hand_dni_compiled trains what hand_dni trains", "relative_max_diff": drift}))
    if not drift < 1e-4:
        print(f"bench_compile: the compiled update drifted from the eager one ({drift:.2e})", file=sys.stderr)
        return 1
    for horizon in (8, 2):
        torch.manual_seed(0)
        learners = {
            "tbptt": HandWrittenTBPTT("lstm", features, hidden, 1, out, lr=1e-4),
            "hand_dni": HandWrittenDNI("lstm", features, hidden, 1, out, lr=1e-4),
            "hand_dni_compiled": CompiledGlueDNI("lstm", features, hidden, 1, out, lr=1e-4),
        }
        windows = make_windows(10, horizon, batch, features, out)
        for record in records(
            time_learners(learners, dict.fromkeys(learners, windows), args.rounds),
            "tbptt",
            {"horizon": horizon, "resets": False},
        ):
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
