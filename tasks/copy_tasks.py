"""Copy and repeat copy (Graves et al. 2014) as streams of windows, with curricula (SPEC section 3).

Copy, length N: N random ``bits``-wide binary vectors, one delimiter step, then N output steps in which
the network must emit the vectors again (inputs are zero there). Repeat copy adds a repeat count R,
given as ``R / 10`` on an extra input channel at the delimiter step; the output is the sequence R times
followed by one end-marker step (an extra output channel).

Each of the ``B`` streams is a sequence of sequences, back to back; the state is reset at every sequence's
first step and no synthetic gradient is injected at a boundary where a new sequence starts. By default the
streams are aligned (every stream starts a sequence at the same step). With ``stagger`` each stream starts
after its own number of idle steps (zero inputs, no loss), drawn uniformly from ``[0, STAGGER_STEPS)``
once per run, so that a window holds every phase of the task: its gradient, and ``M``'s regression
batch, then mix presentation and output steps instead of seeing one phase at a time.

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
from dni_rnn.head import PRIVATE, Head
from dni_rnn.lookback import EpisodeLookback
from dni_rnn.task import Task
from dni_rnn.train_config import TrainConfig
from dni_rnn.window import Window

LN2 = 0.6931471805599453
CONTEXTS = ("none", "inputs", "targets", "past_inputs")
STAGGER_STEPS = 64  # the streams' offsets are drawn from [0, STAGGER_STEPS): more than a sequence at N <= 31


@dataclass
class CopyOptions:
    bits: int = option(8, "Width of the random binary vectors.", low=1)
    threshold: float = option(0.15, "Curriculum threshold: mean loss per output bit, in bits (> 0).", low=0.0)
    check_every: int = option(64, "Sequences (per batch entry) between two curriculum checks.", low=1)
    start_length: int = option(1, "N at the start of the curriculum.", low=1)
    sg_context: str = option(
        "none",
        "cDNI: what M reads besides the state at a boundary: none, inputs (the next window's inputs), targets (its targets and loss mask: a labelled, privileged variant) or past_inputs (the inputs of the window that ends there, of the boundary's episode only).",
        choices=CONTEXTS,
    )
    context_steps: int = option(
        0,
        "past_inputs: how many of the latest steps of the boundary's episode M reads (0: the window's T steps; more reach back across earlier windows, zeros before the episode's start).",
        low=0,
    )
    stagger: bool = option(
        False, "Start each stream after its own random number of idle steps, so that a window mixes every phase."
    )

    def __post_init__(self):
        check_fields(self)
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        if self.context_steps and self.sg_context != "past_inputs":
            raise ValueError(f"--context-steps is read by --sg-context past_inputs only, not {self.sg_context}")


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
        # past_inputs: the latest inputs of each boundary's episode, across windows; inputs / targets: the next
        # window's, per step of it.
        self._lookback = None
        if options.sg_context == "past_inputs":
            self._lookback = EpisodeLookback(options.context_steps or horizon, run.batch_size, self.input_size, device)
            self.context_size = self._lookback.size
        else:
            widths = {"none": 0, "inputs": self.input_size, "targets": self.output_size + 1}
            self.context_size = horizon * widths[options.sg_context]
        self.length = options.start_length
        self.repeats = 1
        # The aligned source: sequences drawn a batch at a time (inputs, targets, loss_mask, resets [S, B, ...])
        # and where they end ([S] bool, on the CPU: counted every window without a device sync), from source
        # step ``_source_start``. Stream b reads source step t - offset_b at its step t (idle before 0).
        self._source: list[Tensor] | None = None
        self._source_ends: Tensor | None = None
        self._source_start = 0
        self._time = 0  # the stream step of the next window's first step
        self._offsets = torch.zeros(run.batch_size, dtype=torch.long)
        if options.stagger:
            self._offsets = torch.randint(
                0, STAGGER_STEPS, (run.batch_size,), generator=self.generator, device=device
            ).cpu()
        self._device_offsets = self._offsets.to(device)
        self._bits = torch.zeros((), device=device)
        self._output_steps = torch.zeros((), device=device)
        self._ended = 0  # sequences ended since the last check, summed over the streams
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
        # One step beyond the window tells whether the next step starts a new sequence; M reading the next
        # window (cDNI) needs all of it.
        reads_next = self.context_size and self.options.sg_context != "past_inputs"
        ahead = 2 * horizon if reads_next else horizon + 1
        inputs, targets, loss_mask, resets, ends = self._steps(ahead)
        next_resets = resets[horizon]
        context = next_context = None
        if self._lookback is not None:
            context, next_context = self._lookback.advance(inputs[:horizon], resets[:horizon])
        elif self.context_size:
            context = self._context(inputs[:horizon], targets[:horizon], loss_mask[:horizon])
            next_context = self._context(inputs[horizon:], targets[horizon:], loss_mask[horizon:])
        self._ended += int(ends[:horizon].sum())
        self._time += horizon
        self._drop_consumed()
        window = Window(
            inputs[:horizon],
            targets[:horizon],
            loss_mask[:horizon],
            resets[:horizon],
            next_resets,
            context,
            next_context,
        )
        return window, state

    def _steps(self, count: int) -> list[Tensor]:
        """The next ``count`` steps of every stream from ``_time`` on: inputs, targets, loss_mask, resets
        ``[count, B, ...]`` and sequence ends ``[count, B]`` (CPU). Draws sequences as they are needed."""
        while self._source is None or self._source_start + self._source[0].shape[0] < self._time + count:
            *fresh, fresh_ends = self._sequence()
            if self._source is None:
                self._source, self._source_ends = fresh, fresh_ends
            else:
                self._source = [torch.cat(p) for p in zip(self._source, fresh)]
                self._source_ends = torch.cat([self._source_ends, fresh_ends])
        first = self._time - self._source_start
        if not self.options.stagger:  # aligned streams: a plain slice
            steps = slice(first, first + count)
            ends = self._source_ends[steps].unsqueeze(1).expand(count, self.run.batch_size)
            return [*(p[steps] for p in self._source), ends]
        index = first + torch.arange(count).unsqueeze(1) - self._offsets  # (count, B) source steps, < 0: idle
        ends = self._source_ends[index.clamp_min(0)] & (index >= 0)  # on the CPU, like the source's ends
        # The same index built on the data's device (offsets copied there once): no transfer per window.
        index = first + torch.arange(count, device=self.device).unsqueeze(1) - self._device_offsets
        live, index = index >= 0, index.clamp_min(0)
        streams = torch.arange(self.run.batch_size, device=self.device)
        gathered = []
        for part in self._source:  # inputs, targets, loss_mask, resets
            values = part[index, streams]
            mask = live.view(*live.shape, *([1] * (values.dim() - 2)))
            gathered.append(torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=self.device)))
        return [*gathered, ends]

    def _drop_consumed(self) -> None:
        """Forget source steps that no stream will read again."""
        cut = self._time - int(self._offsets.max()) - self._source_start
        if cut > 0:
            self._source = [p[cut:] for p in self._source]
            self._source_ends = self._source_ends[cut:]
            self._source_start += cut

    def _context(self, inputs: Tensor, targets: Tensor, loss_mask: Tensor) -> Tensor:
        """``[B, C]``: what M reads about a window (its inputs, or its targets and mask), flattened over steps."""
        if self.options.sg_context == "inputs":
            seen = inputs  # (T, B, F)
        else:
            seen = torch.cat([targets, loss_mask.unsqueeze(-1)], dim=-1)  # (T, B, W + 1)
        return seen.transpose(0, 1).flatten(1)

    # ----- the curriculum ---------------------------------------------------------------------------

    def observe(self, metrics, private):
        self._bits += private["bits_sum"]
        self._output_steps += private["output_steps"]
        if self._ended < self.options.check_every * self.run.batch_size:
            return {}
        # One host sync per check, not per window.
        per_bit = float(self._bits / (self._output_steps.clamp_min(1) * self.output_size))
        self.last_check_loss = per_bit
        if per_bit < self.options.threshold:
            self._advance()
        self._bits.zero_(), self._output_steps.zero_()
        self._ended = 0
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
            "source": self._source,
            "source_ends": self._source_ends,
            "source_start": self._source_start,
            "time": self._time,
            "offsets": self._offsets,
            "lookback": self._lookback.state_dict() if self._lookback is not None else None,
            "bits": self._bits,
            "output_steps": self._output_steps,
            "ended": self._ended,
        }

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.length, self.repeats = state["length"], state["repeats"]
        if "pending" in state:  # a checkpoint from before --stagger: its aligned pending steps are the source
            *state["source"], state["source_ends"] = state["pending"]
            state.update(source_start=0, time=0, offsets=torch.zeros_like(self._offsets))
            state["ended"] = state["sequences"] * self.run.batch_size
        self._source, self._source_ends = state["source"], state["source_ends"]
        self._source_start, self._time, self._offsets = state["source_start"], state["time"], state["offsets"]
        self._device_offsets = self._offsets.to(self.device)
        if self._lookback is not None and "past_context" in state:  # from before EpisodeLookback: [B, T x F]
            past = state["past_context"].view(self.run.batch_size, self.run.horizon, self.input_size)
            self._lookback.load_state_dict({"buffer": past.transpose(0, 1)})
        elif self._lookback is not None:
            self._lookback.load_state_dict(state.get("lookback"))
        self._bits.copy_(state["bits"]), self._output_steps.copy_(state["output_steps"])
        self._ended = state["ended"]


class RepeatCopyTask(CopyTask):
    """Repeat copy with a curriculum raising R until R = N, then N. Figures of merit: N and R reached."""

    repeat = True
    figures_of_merit = ("max_length", "max_repeats")
    key_charts = ("charts/curriculum_length", "charts/curriculum_repeats", "charts/curriculum_loss")
