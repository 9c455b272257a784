"""Penn Treebank, character level (SPEC section 3): next-symbol prediction, bits per character.

Training stream: the training split (5,017,482 symbols, 50 of them: 49 characters + end of line) is
cut into ``B`` contiguous streams (:func:`dni_rnn_tasks.ptb.stream.batchify`) and read in windows of exactly
``T`` steps (:class:`dni_rnn_tasks.ptb.stream.CharStream` with ``drop_last=True``: the last ``(L-1) mod T``
steps of an epoch are skipped, so every window has the same ``T * B`` normalisation). The recurrent
state is carried from one window to the next, the classic setting where a boundary gradient matters.
When the stream wraps to a new epoch (from the end of the corpus back to its start) the state is reset
before the first step (``resets[0]`` all True), and the window before the wrap has ``next_resets`` all True so
that no synthetic gradient is injected across the epoch boundary.

Window (time-major, ``T`` steps, ``B`` streams):
    inputs: ``LongTensor [T, B]`` symbol ids.
    targets: ``LongTensor [T, B]``, the next symbol: ``targets[t] = inputs[t + 1]`` and ``targets[-1]``
        is the first input of the next window.
    loss_mask: None (every step carries loss).
    resets: None, except on the first window of a new epoch: step 0 all True.
    next_resets: ``BoolTensor [B]`` all True on the last window of an epoch, else None.

Model: ``nn.Embedding(V, embedding)`` -> the ``--cell`` core (``--hidden``, ``--layers``) -> a linear
readout to ``V`` logits (V = 50 on the standard data). Training loss of a window: the cross-entropy in
bits (nats / ln 2) averaged over its ``T * B`` predictions, i.e. the window's bits per character.

Evaluation: bits per character (total bits / number of predicted symbols) on a split cut into
``eval_batch_size`` contiguous streams, read in windows of ``eval_horizon`` steps with the state
carried across the whole split (never reset), under ``torch.no_grad()`` in eval mode. Periodic
evaluations (every ``--eval-every`` windows) score the validation split only; the final one scores
the whole validation and test splits. With ``eval_limit`` set, periodic evaluations score only the
first ``ceil(eval_limit / eval_batch_size)`` steps of each validation stream and report them as
``charts/bpc_valid_subset`` (the early-stopping metric then); the final evaluation reports that subset
as well (a prefix of the same computation, free) so that best.pt compares like with like, plus the
full ``charts/bpc_valid`` and ``charts/bpc_test``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dni_rnn.config import check_fields, option
from dni_rnn.cores import EncodedCore, make_core
from dni_rnn.engine import Window
from dni_rnn.head import Head
from dni_rnn.state import State
from dni_rnn.task import Actor, Task
from dni_rnn.train_config import TrainConfig
from dni_rnn_tasks.ptb.corpus import load_splits
from dni_rnn_tasks.ptb.fetch import download
from dni_rnn_tasks.ptb.stream import CharStream, batchify

LN2 = math.log(2.0)


@dataclass
class PTBOptions:
    """Options of the ``ptb`` task.

    ``eval_batch_size``: the valid/test splits are cut into this many contiguous streams, each started
    from the initial state. Only the first few symbols of each stream pay for that cold start, so the
    BPC of a whole split with carried state barely depends on it. Measured on a 256-unit LSTM at 1.84
    valid BPC, against batch 1 (the usual report): +0.0001 (4 streams), +0.0006 (32), +0.0024 (128),
    +0.009 (512). On a CPU the cost hardly depends on it either (one thread, valid+test: 11 s at batch 1,
    4.5 s at 4 to 128), so the default 32 is both fast and within 0.001 BPC; a GPU gains from larger
    batches.
    """

    data_dir: str | None = option(
        None, "Directory of the PTB files; None searches $DNI_RNN_PTB_DIR, ../shared/data/ptb, ~/.cache/dni_rnn/ptb."
    )
    download: bool = option(
        False, "Download the standard files (sha256-checked) into --data-dir (default ~/.cache/dni_rnn/ptb) first."
    )
    verify: bool = option(True, "Check the sha256 of the data files against the standard checksums.")
    embedding: int = option(64, "Width of the input symbol embedding (>= 50 can represent a one-hot code).", low=1)
    eval_batch_size: int = option(32, "Contiguous streams the valid/test splits are cut into for evaluation.", low=1)
    eval_horizon: int = option(
        256, "Steps per evaluation window (one fused kernel call each); the state is carried anyway.", low=1
    )
    eval_limit: int | None = option(
        None,
        "Max validation characters scored by the periodic evaluations (None: whole split); "
        "the final evaluation always scores the whole valid and test splits.",
        low=1,
    )

    def __post_init__(self):
        check_fields(self)


class CharHead(Head):
    """Linear readout to ``vocab_size`` logits and cross-entropy in bits.

    ``loss(outputs [T, B, H], window) -> (loss, metrics)``: ``loss`` is the mean over the window's
    ``T * B`` predictions (the window's bits per character), so every window has the same normalisation.
    """

    def __init__(self, hidden: int, vocab_size: int):
        super().__init__()
        self.readout = nn.Linear(hidden, vocab_size)

    def bits(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Bits of every prediction: ``outputs [T, B, H]``, ``targets [T, B]`` long -> ``[T, B]``."""
        logits = self.readout(outputs)  # (T, B, V)
        nats = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        return nats.view(targets.shape) / LN2

    def loss(self, outputs: Tensor, window: Window) -> tuple[Tensor, dict[str, Tensor]]:
        loss = self.bits(outputs, window.targets).mean()
        return loss, {"charts/bpc_train": loss.detach()}


class PTBTask(Task):
    """Penn Treebank character-level language modelling; bits per character on valid and test."""

    Config = PTBOptions
    best_metric = "charts/bpc_valid"
    figures_of_merit = ("bpc_valid", "bpc_test")
    key_charts = ("charts/bpc_valid", "charts/bpc_valid_subset", "charts/bpc_train")
    resume_ignores = ("data_dir", "download", "verify")  # where the files are: the data are compared by data_checksum()

    def __init__(self, options: PTBOptions, run: TrainConfig, device: torch.device):
        super().__init__(options, run, device)
        if options.download:
            download(options.data_dir)
        # DataError (a ValueError with a one-line message naming the file) propagates to the CLI.
        self.corpus = load_splits(options.data_dir, verify=options.verify)
        self.vocab_size = self.corpus.vocab_size
        self.input_size = options.embedding
        # drop_last: every window has exactly T steps, so the loss normalisation never changes.
        self.stream = CharStream(self.corpus.train, run.batch_size, run.horizon, device, drop_last=True)
        self._epoch_end = torch.ones(run.batch_size, dtype=torch.bool, device=device)
        self._subset_rows = self._rows_for_limit(options.eval_limit)
        if self._subset_rows is not None:
            # Periodic evaluations then score a subset: early stopping must compare subset with subset.
            self.best_metric = "charts/bpc_valid_subset"
        self.last: dict[str, float] = {"bpc_valid": math.nan, "bpc_test": math.nan}

    def _rows_for_limit(self, limit: int | None) -> int | None:
        """Steps per validation stream scored by a periodic evaluation; None when that is the whole split."""
        if limit is None:
            return None
        rows = -(-limit // self.options.eval_batch_size)
        full = self.corpus.valid.numel() // self.options.eval_batch_size - 1
        return None if rows >= full else rows

    def data_checksum(self) -> str:
        """sha256 of the vocabulary and the three splits' symbol ids: what resuming compares, not the path."""
        digest = hashlib.sha256("\0".join(self.corpus.vocab).encode())
        for split in (self.corpus.train, self.corpus.valid, self.corpus.test):
            digest.update(split.cpu().numpy().tobytes())
        return digest.hexdigest()

    # ----- model ------------------------------------------------------------------------------------

    def build_core(self) -> nn.Module:
        embedding = nn.Embedding(self.vocab_size, self.options.embedding)
        return EncodedCore(
            embedding,
            make_core(
                self.run.cell,
                self.options.embedding,
                self.run.hidden,
                self.run.layers,
                chrono_steps=self.run.chrono_steps,
                reset_loop=self.run.reset_loop,
                sparse_init=self.run.sparse_init,
            ),
        )

    def build_head(self, core_output_size: int) -> CharHead:
        return CharHead(core_output_size, self.vocab_size)

    # ----- the stream -------------------------------------------------------------------------------

    def next_window(self, actor: Actor | None, state: State) -> tuple[Window, State]:
        inputs, targets = next(self.stream)  # (T, B) each, views into the batchified corpus
        resets = None
        if self.stream.wrapped:
            # The stream jumped from the corpus' end back to its start: nothing carries over. A reset at
            # step 0 (rather than a fresh state here) keeps the task blind to which streams it trains on.
            resets = torch.zeros(inputs.shape, dtype=torch.bool, device=inputs.device)
            resets[0] = True
        # end_of_epoch: the next window wraps, so no synthetic gradient may be injected at this boundary.
        next_resets = self._epoch_end if self.stream.end_of_epoch else None
        return Window(inputs, targets, None, resets, next_resets), state

    # ----- evaluation -------------------------------------------------------------------------------

    @torch.no_grad()
    def _bits(
        self, core: nn.Module, head: CharHead, ids: Tensor, rows: int | None = None
    ) -> tuple[float, int, float, int]:
        """Score a split with the state carried across all of it.

        Args:
            ids: ``LongTensor [N]`` of a split.
            rows: stop after this many steps per stream (None: the whole split).

        Returns:
            ``(bits, count, subset_bits, subset_count)``: the total bits and the number of scored symbols,
            and the same for the first ``self._subset_rows`` steps of every stream (0, 0 without a limit).
        """
        batch, horizon = self.options.eval_batch_size, self.options.eval_horizon
        device = next(core.parameters()).device
        data = batchify(ids, batch).to(device)  # (L, B)
        steps = data.shape[0] - 1 if rows is None else min(rows, data.shape[0] - 1)
        subset = self._subset_rows
        state = core.initial_state(batch, device)
        total = torch.zeros((), dtype=torch.float64, device=device)
        subset_total = torch.zeros((), dtype=torch.float64, device=device)
        for start in range(0, steps, horizon):
            stop = min(start + horizon, steps)
            outputs, state = core(data[start:stop], state)
            bits = head.bits(outputs, data[start + 1 : stop + 1]).double()  # (t, B)
            total += bits.sum()
            if subset is not None and start < subset:
                subset_total += bits[: subset - start].sum()
        # One host sync per split, not per window.
        subset_count = min(subset, steps) * batch if subset is not None else 0
        return float(total), steps * batch, float(subset_total), subset_count

    def evaluate(self, core: nn.Module, head: CharHead, *, final: bool) -> dict[str, float]:
        """Bits per character of the current model, with the state carried across each split.

        Args:
            core, head: the model (trained or freshly built).
            final: score the whole validation and test splits (the trainer's one last evaluation).

        Returns:
            ``{"charts/bpc_valid": float}`` for a periodic evaluation without ``eval_limit``,
            ``{"charts/bpc_valid_subset": float}`` for one with it; a final evaluation returns
            ``charts/bpc_valid`` and ``charts/bpc_test`` (plus ``charts/bpc_valid_subset`` with a limit).
        """
        if final:
            bits, count, sub_bits, sub_count = self._bits(core, head, self.corpus.valid)
            test_bits, test_count, _, _ = self._bits(core, head, self.corpus.test)
            result = {"charts/bpc_valid": bits / count, "charts/bpc_test": test_bits / test_count}
            if sub_count:
                result["charts/bpc_valid_subset"] = sub_bits / sub_count
            self.last = {"bpc_valid": result["charts/bpc_valid"], "bpc_test": result["charts/bpc_test"]}
        elif self._subset_rows is not None:
            _, _, sub_bits, sub_count = self._bits(core, head, self.corpus.valid, self._subset_rows)
            result = {"charts/bpc_valid_subset": sub_bits / sub_count}
        else:
            bits, count, _, _ = self._bits(core, head, self.corpus.valid)
            result = {"charts/bpc_valid": bits / count}
            self.last["bpc_valid"] = result["charts/bpc_valid"]
        return result

    def progress(self, scalars: dict[str, float]) -> dict[str, str]:
        """The training BPC of the last log point and the last validation BPC."""
        shown = {}
        if "charts/bpc_train" in scalars:
            shown["bpc"] = f"{scalars['charts/bpc_train']:.3f}"
        for tag, name in (("charts/bpc_valid", "valid"), ("charts/bpc_valid_subset", "valid~")):
            if tag in scalars:
                shown[name] = f"{scalars[tag]:.3f}"
        return shown

    def summary(self) -> dict[str, float]:
        """The last full-split results (NaN before any): ``{"bpc_valid": float, "bpc_test": float}``."""
        return dict(self.last)

    # ----- checkpoints ------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "stream": self.stream.state_dict(),  # exact resume: the next window is the one that would have come
            "last": dict(self.last),
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.stream.load_state_dict(state["stream"])
        self.last = dict(state["last"])
