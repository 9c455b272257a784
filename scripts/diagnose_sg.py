"""Is the future gradient predictable from the state? A diagnostic of a trained dni run.

    python -m scripts.diagnose_sg logs/table1/copy__dni__T4__s0/checkpoint.pt --windows 600

With the run's weights frozen, it streams windows of the run's task from the checkpoint's curriculum
level and, at every window boundary, computes the true discounted future gradient
(``WindowEngine.future_gradient`` over the next ``--probe-windows`` windows). It then reports:
- the cosine similarity and relative error of the run's own ``M(s_T)`` against the truth;
- the same for the best *linear* predictor of the truth from the state, fitted by ridge regression on
  the first half of the boundaries and scored on the second half: the ceiling for a linear ``M``;
- the share of the truth's energy at boundaries where the next step continues the sequence.
Low ceilings mean a linear ``M`` cannot help on this task at this level, whatever its learning rate.

With ``--track W``, it instead continues training from the checkpoint for ``W`` windows at the
checkpoint's curriculum level, with the core's learning rate set to ``--core-lr`` (0 freezes the core)
and M's to ``--sg-lr``, and reports the SG-quality probe's mean cosine in each quarter: whether M can
follow the future gradient when the core holds still, and when it moves.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from dni_rnn.state import flatten_state
from dni_rnn.training import load_run


def cosine(a, b):
    return float(F.cosine_similarity(a.flatten(), b.flatten(), dim=0, eps=1e-12))


def relative_error(prediction, truth):
    return float((prediction - truth).norm() / truth.norm().clamp_min(1e-12))


def track(task, engine, payload, args) -> dict:
    """Train M (and the core at ``--core-lr``) online at a fixed curriculum level; probe cosines by quarter."""
    for group in engine.optimizer.param_groups:
        group["lr"] = args.core_lr
    for group in engine.sg_optimizer.param_groups:
        group["lr"] = args.sg_lr
    engine.config.probe_every, engine.config.probe_windows = args.probe_every, args.probe_windows
    level = {k: payload["task"][k] for k in ("length", "repeats")}
    state = engine.initial_state(task.run.batch_size)
    cosines = []
    for _ in range(args.track):
        window, state = task.next_window(engine, state)
        state, metrics = engine.step(window, state)
        if "charts/sg_cosine" in metrics:
            cosines.append(float(metrics["charts/sg_cosine"]))
        task.length, task.repeats = level["length"], level["repeats"]  # hold the curriculum still
    quarter = max(1, len(cosines) // 4)
    return {
        "checkpoint": args.checkpoint,
        "curriculum": level,
        "windows": args.track,
        "core_lr": args.core_lr,
        "sg_lr": args.sg_lr,
        "probes": len(cosines),
        "probe_cosine_by_quarter": [
            sum(cosines[i : i + quarter]) / len(cosines[i : i + quarter])
            for i in range(0, quarter * 4, quarter)
            if cosines[i : i + quarter]
        ],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--windows", type=int, default=600, help="boundaries to collect")
    parser.add_argument("--probe-windows", type=int, default=4)
    parser.add_argument("--ridge", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--track", type=int, default=0, help="train M online for this many windows instead")
    parser.add_argument("--core-lr", type=float, default=0.0, help="with --track: the core's learning rate")
    parser.add_argument("--sg-lr", type=float, default=1e-4, help="with --track: M's learning rate")
    parser.add_argument("--probe-every", type=int, default=50, help="with --track: windows between probes")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    task, engine, payload = load_run(args.checkpoint, device="cpu")
    task.load_state_dict(payload["task"])
    if engine.synthetic_gradient is None:
        raise SystemExit("diagnose_sg: the run has no synthetic-gradient module (method bptt)")
    if args.track:
        print(json.dumps(track(task, engine, payload, args), indent=1))
        return 0
    batch = task.run.batch_size
    state = engine.initial_state(batch)
    windows, states = [], []
    with torch.no_grad():
        for _ in range(args.windows + args.probe_windows):
            window, state = task.next_window(engine, state)
            _, state = engine.core(window.inputs, state, window.resets)
            windows.append(window)
            states.append(state)
    features, truths, predictions = [], [], []
    for k in range(args.windows):
        truth = engine.future_gradient(states[k], windows[k + 1 : k + 1 + args.probe_windows])  # (B, S)
        predicted = engine.boundary_grad(flatten_state(states[k]), windows[k])  # M(s_T), masked where a sequence starts
        features.append(flatten_state(states[k]))
        truths.append(truth)
        predictions.append(predicted)
    x, y, m = torch.cat(features), torch.cat(truths), torch.cat(predictions)  # (N, S)
    x = torch.cat([x, torch.ones(x.shape[0], 1)], dim=1)  # bias
    half = x.shape[0] // 2
    gram = x[:half].T @ x[:half] + args.ridge * half * torch.eye(x.shape[1])
    weights = torch.linalg.solve(gram, x[:half].T @ y[:half])
    fitted = x[half:] @ weights
    result = {
        "checkpoint": args.checkpoint,
        "curriculum": {k: payload["task"][k] for k in ("length", "repeats") if k in payload["task"]},
        "boundaries": args.windows,
        "samples": int(x.shape[0]),
        "run_M_cosine": cosine(m[half:], y[half:]),
        "run_M_relative_error": relative_error(m[half:], y[half:]),
        "linear_fit_train_cosine": cosine(x[:half] @ weights, y[:half]),
        "linear_fit_heldout_cosine": cosine(fitted, y[half:]),
        "linear_fit_heldout_relative_error": relative_error(fitted, y[half:]),
        "linear_fit_heldout_r2": float(
            1 - (fitted - y[half:]).pow(2).sum() / (y[half:] - y[:half].mean(0)).pow(2).sum()
        ),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
