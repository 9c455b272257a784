"""Hold the engine's tests to account: apply one-line mutants to the library, one at a time, and check that
some test fails for each ("killed"). A surviving mutant is a promise of the engine that no test pins.

    python -m scripts.mutants            # every mutant; exit 1 if any survives
    python -m scripts.mutants --list     # what they are

Each mutant is applied to a copy of ``dni_rnn/`` and ``tests/`` in a temporary folder, where the tests run
(so that copy is imported first), and the checkout is never modified. Runs the engine's test files only (about 10 s a mutant on one core).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/test_engine.py",
    "tests/test_gradients.py",
    "tests/test_targets.py",
    "tests/test_probe.py",
    "tests/test_boundary.py",
    "tests/test_synthetic_gradient.py",
]

# (what it breaks, file, exact text, replacement)
MUTANTS = [
    (
        "injected gradient not masked where the next step resets",
        "dni_rnn/boundary.py",
        "grad = grad.masked_fill(next_resets.unsqueeze(-1), 0.0)",
        "grad = grad",
    ),
    (
        "probe discount off by one power",
        "dni_rnn/probe.py",
        "total = total + self.discount**j * window_loss",
        "total = total + self.discount ** (j + 1) * window_loss",
    ),
    (
        "probe discounted by the injection scale",
        "dni_rnn/engine.py",
        "SGProbe(config.discount,",
        "SGProbe(config.sg_scale,",
    ),
    (
        "M's loss keeps entries reset at step 0",
        "dni_rnn/engine.py",
        "return flat_start, newest, window.context, None if first_reset is None else ~first_reset",
        "return flat_start, newest, window.context, None",
    ),
    (
        "aux loss ignores resets inside the window",
        "dni_rnn/auxiliary.py",
        "return torch.where(keep, error, 0.0).sum() / error.numel()",
        "return error.mean()",
    ),
    (
        "mean-pooled aux loss ignores resets inside the window",
        "dni_rnn/auxiliary.py",
        "pooled = torch.where(keep.unsqueeze(-1), outputs, 0.0).sum(0) / keep.sum(0).unsqueeze(-1)",
        "pooled = outputs.mean(0)",
    ),
    (
        "aux loss detached from the core",
        "dni_rnn/auxiliary.py",
        "prediction = aux_head(outputs)  # (T, B, S)",
        "prediction = aux_head(outputs.detach())  # (T, B, S)",
    ),
    (
        "aux head regresses an unmasked M",
        "dni_rnn/engine.py",
        "aux = self.aux_loss(run_aux, outputs, boundary_grad, window)",
        "aux = self.aux_loss(run_aux, outputs, boundary.predict(flatten_state(final), window.next_context), window)",
    ),
    (
        "M reads a scaled s_T",
        "dni_rnn/boundary.py",
        "grad = self.predict(flat_final, next_context, next_resets)",
        "grad = self.predict(1.001 * flat_final, next_context, next_resets)",
    ),
    (
        "M regresses from a scaled s_0",
        "dni_rnn/boundary.py",
        "prediction = (self.runner or self.module)(flat_state, context)  # (B, S)",
        "prediction = (self.runner or self.module)(1.001 * flat_state, context)  # (B, S)",
    ),
    (
        "delta_0 without the factor B",
        "dni_rnn/boundary.py",
        "delta = flatten_grads([t.grad for t in state_tensors(start)], start).mul_(batch)",
        "delta = flatten_grads([t.grad for t in state_tensors(start)], start)",
    ),
    (
        "injection without 1/B",
        "dni_rnn/boundary.py",
        "injected = direction * (scale / batch)",
        "injected = direction * scale",
    ),
    (
        "untied discount ignored",
        "dni_rnn/boundary.py",
        "correction = self.discount * bootstrap - scale * direction",
        "correction = scale * bootstrap - scale * direction",
    ),
    (
        "lambda target: bootstrap weight off by one power",
        "dni_rnn/targets.py",
        "weight_m = discount ** (i + 1) * lam**i * (1.0 - lam)",
        "weight_m = discount**i * lam**i * (1.0 - lam)",
    ),
    (
        "target copy never used for the bootstrap",
        "dni_rnn/boundary.py",
        "bootstrap = self.predict(flat_final, next_context, next_resets, target=True)",
        "bootstrap = grad",
    ),
]


def run_mutant(source: str, path: str, old: str, new: str) -> bool:
    """True when some test fails with the mutant applied (killed)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "dni_rnn", Path(tmp) / "dni_rnn")
        shutil.copytree(ROOT / "tests", Path(tmp) / "tests")
        target = Path(tmp) / path
        text = target.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"mutants: {path} no longer holds exactly one {old!r}; update the mutant list")
        target.write_text(text.replace(old, new))
        env = {**os.environ, "PYTHONPATH": tmp + os.pathsep + os.environ.get("PYTHONPATH", "")}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
        return result.returncode != 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(f"{path}: {what}" for what, path, _, _ in MUTANTS))
        return 0
    survivors = []
    for what, path, old, new in MUTANTS:
        killed = run_mutant(what, path, old, new)
        print(f"{'killed  ' if killed else 'SURVIVED'} {path}: {what}", flush=True)
        if not killed:
            survivors.append(what)
    print(f"{len(MUTANTS) - len(survivors)} of {len(MUTANTS)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
