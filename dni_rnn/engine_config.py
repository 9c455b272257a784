"""``EngineConfig``: how the window engine trains (the same names on the command line and in checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass

from dni_rnn.auxiliary import AUX_POOLINGS
from dni_rnn.config import check_fields, option

METHODS = ("bptt", "dni", "dni_aux")


@dataclass
class EngineConfig:
    """How windows are trained. The same names are used on the command line and in checkpoints."""

    method: str = option(
        "dni",
        "bptt (truncated BPTT), dni (synthetic boundary gradient) or dni_aux (dni + future-SG auxiliary loss).",
        choices=METHODS,
    )
    lr: float = option(3e-3, "Adam learning rate of the core and the task's readout (> 0).", low=0.0)
    sg_lr: float = option(1e-3, "Adam learning rate of the synthetic-gradient module M (> 0).", low=0.0)
    sg_scale: float = option(0.1, "Injection scale: the parameters see scale * M(s_T) at the window's end.", low=0.0)
    bootstrap_discount: float | None = option(
        None,
        "Discount of M(s_T) in M's bootstrapped target; None ties it to sg_scale (one backward per window).",
        low=0.0,
    )
    sg_hidden: tuple[int, ...] = option((), "Hidden widths of M; () for the default linear M.", low=1)
    sg_warmup_windows: int = option(0, "Windows during which M learns but nothing is injected.", low=0)
    sg_clip_prediction: float | None = option(
        None, "Clamp every entry of M's prediction to [-x, x] (x > 0) before it is injected; None: no clamp.", low=0.0
    )
    grad_clip: float | None = option(
        1.0, "Max global grad norm (> 0) of the core and readout; None: no clipping.", low=0.0
    )
    sg_grad_clip: float | None = option(1.0, "Max global grad norm (> 0) of M; None: no clipping.", low=0.0)
    aux_weight: float = option(1.0, "Weight of the dni_aux loss.", low=0.0)
    aux_pooling: str = option(
        "mean",
        "dni_aux: the aux head predicts M(s_T) once from the outputs averaged over the steps of s_T's episode "
        "(mean: 1/T of the head's cost; as good or better on copy, docs/RESULTS.md 4.2) or from every step's "
        "output (steps: the definition of the results before that).",
        choices=AUX_POOLINGS,
    )
    sg_target_windows: int = option(
        1,
        "n: M's target backpropagates through n windows before it bootstraps (1: the paper's one-window target).",
        low=1,
    )
    sg_lambda: float = option(
        1.0, "lambda of M's target over its n windows (1: n-step target; 0: one-window target).", low=0.0, high=1.0
    )
    sg_target_ema: float = option(
        0.0,
        "tau of a slowly updated target copy of M for the bootstrap (M' <- (1-tau) M' + tau M); 0: bootstrap with M.",
        low=0.0,
        high=1.0,
    )
    sg_solver: str = option(
        "adam",
        "How M learns: adam (its optimiser, --sg-lr) or least_squares (a linear M re-fit "
        "in closed form to its exponentially weighted targets).",
        choices=("adam", "least_squares"),
    )
    sg_forgetting: float = option(
        0.99, "least_squares: per-window weight of past targets, in (0, 1].", low=0.0, high=1.0
    )
    sg_ridge: float = option(1e-2, "least_squares: ridge term.", low=0.0)
    sg_solve_every: int = option(4, "least_squares: windows between two solves.", low=1)
    sg_shuffle: bool = option(
        False, "Control: permute M's injected predictions across the batch (M still learns unshuffled)."
    )
    probe_every: int = option(
        0, "Every k windows compare M(s_T) with the true discounted gradient of the next windows; 0: off.", low=0
    )
    probe_windows: int = option(4, "P, how many future windows the SG-quality probe backpropagates through.", low=1)
    max_bad_windows: int = option(
        10, "Stop after this many consecutive windows with a non-finite loss or gradient.", low=1
    )

    def __post_init__(self):
        self.sg_hidden = tuple(self.sg_hidden)
        check_fields(self)
        # Zero is in range for a scale but not for these: a zero step size or clip trains nothing.
        if self.sg_solver == "least_squares" and self.sg_hidden:
            raise ValueError("--sg-solver least_squares fits a linear M: leave --sg-hidden empty")
        for name in ("lr", "sg_lr", "grad_clip", "sg_grad_clip", "sg_clip_prediction", "sg_forgetting"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")

    @property
    def discount(self) -> float:
        return self.sg_scale if self.bootstrap_discount is None else self.bootstrap_discount
