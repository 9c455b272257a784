"""Copy and repeat copy (Graves et al. 2014) as streams of windows, with curricula (SPEC section 3).

Copy, length N: N random ``bits``-wide binary vectors, one delimiter step, then N output steps in which
the network must emit the vectors again (inputs are zero there). Repeat copy adds a repeat count R,
given as ``R / 10`` on an extra input channel at the delimiter step; the output is the sequence R times
followed by one end-marker step (an extra output channel).

Sequences of a batch are aligned and streamed back to back; the state is reset at every sequence's
first step and no synthetic gradient is injected at a boundary where a new sequence starts.

Losses, in bits (binary cross-entropy / ln 2):
- training loss of a window: the bits of all output channels on all output steps of the window,
  summed and divided by ``T * B`` -- the same normalisation in every window, as SPEC section 1 asks.
- curriculum: after every ``check_every`` sequences the bits accumulated on output steps since the
  last check are divided by the number of output steps and by the output width: the mean loss
  *per output bit*. When it is below ``threshold`` (0.15) the curriculum advances: copy raises N;
  repeat copy raises R until R = N, then N. The per-bit mean does not depend on the vector width or on
  N, so the threshold means the same at every level (0.15 bits per bit is a mean probability of
  about 0.9 on the right bit).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dni_rnn.config import check_fields, option
from dni_rnn.engine import Window
from dni_rnn.head import PRIVATE, Head
from dni_rnn.task import Task
from dni_rnn.train_config import TrainConfig

LN2 = 0.6931471805599453
CONTEXTS = ("none", "inputs", "targets")


@dataclass
class CopyOptions:
    bits: int = option(8, "Width of the random binary vectors.", low=1)
    threshold: float = option(0.15, "Curriculum threshold: mean loss per output bit, in bits (> 0).", low=0.0)
    check_every: int = option(64, "Sequences (per batch entry) between two curriculum checks.", low=1)
    start_length: int = option(1, "N at the start of the curriculum.", low=1)
    sg_context: str = option(
        "none",
        "cDNI: what M reads besides the state at a boundary: none, inputs (the next window's inputs) or targets (its targets and loss mask: a labelled, privileged variant).",
        choices=CONTEXTS,
    )

    def __post_init__(self):
        check_fields(self)
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")


class BitsHead(Head):
    """Linear readout to logits and masked binary cross-entropy in bits, summed / (T * B).

    Its private metrics (the curriculum's bookkeeping): ``bits_sum`` and ``output_steps`` of the window.
    """

    def __init__(self, hidden: int, width: int):
        super().__init__()
        self.readout = nn.Linear(hidden, width)

    def loss(self, outputs: Tensor, window: Window) -> tuple[Tensor, dict]:
        logits = self.readout(outputs)  # (T, B, W)
        bits = F.binary_cross_entropy_with_logits(logits, window.targets, reduction="none").sum(-1) / LN2
        masked = bits * window.loss_mask  # (T, B)
        return masked.sum() / masked.numel(), {
            PRIVATE: {"bits_sum": masked.sum().detach(), "output_steps": window.loss_mask.sum().detach()},
        }


class CopyTask(Task):
    """Copy with a curriculum on N. Figure of merit: the largest N reached."""

    Config = CopyOptions
    repeat = False
    figures_of_merit = ("max_length",)
    key_charts = ("charts/curriculum_length", "charts/curriculum_loss")

    def __init__(self, options: CopyOptions, run: TrainConfig, device: torch.device):
        super().__init__(options, run, device)
        self.input_size = options.bits + (2 if self.repeat else 1)
        self.output_size = options.bits + (1 if self.repeat else 0)
        horizon = run.horizon
        self.context_size = {
            "none": 0,
            "inputs": horizon * self.input_size,
            "targets": horizon * (self.output_size + 1),
        }[options.sg_context]
        self.length = options.start_length
        self.repeats = 1
        self._pending: list[Tensor] | None = None  # inputs, targets, loss_mask, resets, sequence_ends
        self._bits = torch.zeros((), device=device)
        self._output_steps = torch.zeros((), device=device)
        self._sequences = 0
        self.last_check_loss = float("nan")

    # ----- the stream -------------------------------------------------------------------------------

    def _sequence(self) -> list[Tensor]:
        """One aligned batch of sequences at the current level: inputs, targets, mask, resets, ends."""
        return self.sequences(self.length, self.repeats, self.run.batch_size, self.generator)

    def sequences(self, n: int, repeats: int, batch: int, generator: torch.Generator) -> list[Tensor]:
        """``batch`` aligned sequences of length ``n`` (repeated ``repeats`` times for repeat copy), drawn from
        ``generator``: ``[inputs [S, B, F], targets [S, B, W], loss_mask [S, B], resets [S, B], ends [S]]``."""
        r, bits = repeats if self.repeat else 1, self.options.bits
        output_steps = n * r + (1 if self.repeat else 0)
        steps = n + 1 + output_steps
        pattern = torch.randint(0, 2, (n, batch, bits), generator=generator, device=self.device).float()
        inputs = torch.zeros(steps, batch, self.input_size, device=self.device)
        inputs[:n, :, :bits] = pattern
        inputs[n, :, bits] = 1.0  # delimiter
        targets = torch.zeros(steps, batch, self.output_size, device=self.device)
        targets[n + 1 : n + 1 + n * r, :, :bits] = pattern.repeat(r, 1, 1)
        if self.repeat:
            inputs[n, :, bits + 1] = r / 10.0  # the repeat count, normalised
            targets[-1, :, bits] = 1.0  # end marker
        loss_mask = torch.zeros(steps, batch, device=self.device)
        loss_mask[n + 1 :] = 1.0
        resets = torch.zeros(steps, batch, dtype=torch.bool, device=self.device)
        resets[0] = True
        ends = torch.zeros(steps, dtype=torch.bool)
        ends[-1] = True
        return [inputs, targets, loss_mask, resets, ends]

    def next_window(self, actor, state):
        horizon = self.run.horizon
        # Keep one step beyond the window so that we know whether the next step starts a new sequence, and
        # the whole next window when M reads it (cDNI).
        ahead = 2 * horizon if self.context_size else horizon + 1
        while self._pending is None or self._pending[0].shape[0] < ahead:
            fresh = self._sequence()
            self._pending = fresh if self._pending is None else [torch.cat(p) for p in zip(self._pending, fresh)]
        inputs, targets, loss_mask, resets, ends = (p[:horizon] for p in self._pending)
        next_resets = self._pending[3][horizon]
        context = next_context = None
        if self.context_size:
            context = self._context(slice(0, horizon))
            next_context = self._context(slice(horizon, 2 * horizon))
        self._sequences += int(ends.sum())
        self._pending = [p[horizon:] for p in self._pending]
        return Window(inputs, targets, loss_mask, resets, next_resets, context, next_context), state

    def _context(self, steps: slice) -> Tensor:
        """``[B, C]``: what M reads about the window of pending ``steps`` (its inputs, or targets and mask)."""
        inputs, targets, loss_mask = (p[steps] for p in self._pending[:3])
        if self.options.sg_context == "inputs":
            seen = inputs  # (T, B, F)
        else:
            seen = torch.cat([targets, loss_mask.unsqueeze(-1)], dim=-1)  # (T, B, W + 1)
        return seen.transpose(0, 1).flatten(1)

    # ----- the curriculum ---------------------------------------------------------------------------

    def observe(self, metrics, private):
        self._bits += private["bits_sum"]
        self._output_steps += private["output_steps"]
        if self._sequences < self.options.check_every:
            return {}
        # One host sync per check, not per window.
        per_bit = float(self._bits / (self._output_steps.clamp_min(1) * self.output_size))
        self.last_check_loss = per_bit
        if per_bit < self.options.threshold:
            self._advance()
        self._bits.zero_(), self._output_steps.zero_()
        self._sequences = 0
        return {
            "charts/curriculum_loss": per_bit,
            "charts/curriculum_length": float(self.length),
            **({"charts/curriculum_repeats": float(self.repeats)} if self.repeat else {}),
        }

    def _advance(self):
        if self.repeat and self.repeats < self.length:
            self.repeats += 1
        else:
            self.length += 1

    def progress(self, scalars):
        """The curriculum's level now (N, and R for repeat copy) and the loss per bit of its last check."""
        shown = {"N": str(self.length)}
        if self.repeat:
            shown["R"] = str(self.repeats)
        if "charts/curriculum_loss" in scalars:
            shown["bits/bit"] = f"{scalars['charts/curriculum_loss']:.3f}"
        return shown

    # ----- dni-rnn eval -----------------------------------------------------------------------------

    @torch.no_grad()
    def accuracy(self, core: nn.Module, head: BitsHead, n: int, repeats: int, count: int, generator) -> dict:
        """Bit and sequence accuracy of ``count`` fresh sequences of length ``n``, each run from the initial state.

        A bit is right when the sign of its logit matches the target; a sequence is right when every output bit
        of it is (the end marker too, for repeat copy)."""
        inputs, targets, loss_mask, _, _ = self.sequences(n, repeats, count, generator)
        dtype = next(core.parameters()).dtype
        outputs, _ = core(inputs.to(dtype), core.initial_state(count, inputs.device, dtype))
        right = (head.readout(outputs) > 0) == (targets > 0.5)  # (S, B, W)
        output_steps = loss_mask.bool()  # (S, B)
        bits = right[output_steps]  # (output steps * B, W)
        wrong_steps = (~right).any(-1) & output_steps  # (S, B)
        return {
            "length": n,
            "bit_accuracy": float(bits.float().mean()),
            "sequence_accuracy": float((~wrong_steps.any(0)).float().mean()),
        }

    def report(self, core, head, options):
        """Accuracy at every length from 1 to the N the run reached and ``options.beyond`` lengths past it (at the
        R it reached, for repeat copy), on ``options.sequences`` fresh sequences each."""
        generator = torch.Generator(device=self.device).manual_seed(options.seed)
        lengths = range(1, self.length + options.beyond + 1)
        rows = [self.accuracy(core, head, n, self.repeats, options.sequences, generator) for n in lengths]
        return {**self.summary(), "sequences": options.sequences, "lengths": rows}

    @classmethod
    def format_report(cls, result):
        header = f"  reached N = {int(result['max_length'])}" + (
            f", R = {int(result['max_repeats'])} (scored at R = {int(result['max_repeats'])})" if cls.repeat else ""
        )
        lines = [header, f"  {'N':>4}  {'bit acc':>8}  {'seq acc':>8}   ({result['sequences']} sequences each)"]
        for row in result["lengths"]:
            mark = "" if row["length"] <= result["max_length"] else "  beyond"
            lines.append(f"  {row['length']:>4}  {row['bit_accuracy']:8.4f}  {row['sequence_accuracy']:8.4f}{mark}")
        return "\n".join(lines)

    def summary(self):
        out = {"max_length": float(self.length)}
        if self.repeat:
            out["max_repeats"] = float(self.repeats)
        return out

    def build_head(self, core_output_size: int) -> BitsHead:
        return BitsHead(core_output_size, self.output_size)

    def state_dict(self):
        return {
            **super().state_dict(),
            "length": self.length,
            "repeats": self.repeats,
            "pending": self._pending,
            "bits": self._bits,
            "output_steps": self._output_steps,
            "sequences": self._sequences,
        }

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.length, self.repeats, self._pending = state["length"], state["repeats"], state["pending"]
        self._bits.copy_(state["bits"]), self._output_steps.copy_(state["output_steps"])
        self._sequences = state["sequences"]


class RepeatCopyTask(CopyTask):
    """Repeat copy with a curriculum raising R until R = N, then N. Figures of merit: N and R reached."""

    repeat = True
    figures_of_merit = ("max_length", "max_repeats")
    key_charts = ("charts/curriculum_length", "charts/curriculum_repeats", "charts/curriculum_loss")
