"""Penn Treebank symbol ids as ``B`` contiguous streams read in windows of ``T`` steps."""

from __future__ import annotations

from typing import Mapping

import torch

__all__ = ["CharStream", "batchify"]


def _as_ids(ids) -> torch.Tensor:
    t = torch.as_tensor(ids)
    if t.dim() != 1 or t.dtype.is_floating_point or t.dtype == torch.bool:
        raise ValueError(f"expected a 1-D integer tensor of symbol ids, got {tuple(t.shape)} {t.dtype}")
    return t.long()


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D id sequence into ``batch_size`` contiguous streams, time-major.

    Args:
        ids: ``LongTensor [N]``.
        batch_size: B.

    Returns:
        ``LongTensor [L, B]`` with ``L = N // B``; column b is ``ids[b*L:(b+1)*L]``, so each column
        reads a contiguous stretch of the corpus and state can be carried down a column. The last
        ``N - L*B`` ids are dropped. The result is contiguous (row slices are cheap views).
    """
    ids = _as_ids(ids)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = ids.numel() // batch_size
    if rows < 1:
        raise ValueError(f"{ids.numel()} ids are too few for batch_size {batch_size}")
    return ids[: rows * batch_size].view(batch_size, rows).t().contiguous()


class CharStream:
    """Endless reader of successive ``[T, B]`` windows over ``B`` contiguous streams.

    Window k covers rows ``p .. p+T-1`` of ``batchify(ids, B)`` with targets at rows ``p+1 .. p+T``
    (the next symbol), and the next window starts at row ``p+T``, so consecutive windows tile each
    stream exactly: carry the recurrent state from one window to the next (detached, or with a
    synthetic boundary gradient). The last window of an epoch is shorter when ``L-1`` is not a
    multiple of ``T`` (or skipped with ``drop_last=True``), so that an epoch predicts every one of the
    ``L-1`` targets of each stream exactly once.

    Epochs wrap: after the last window the next one starts again at row 0 and :attr:`wrapped` is
    True for it. At the wrap the stream jumps from the end of the corpus back to its start, so the
    trainer should RESET the recurrent state (and any boundary-gradient bookkeeping) before
    processing a window for which ``wrapped`` is True. The first window ever has ``wrapped=False``
    (the state is fresh anyway).

    Attributes (after each ``next()``):
        epoch: 0-based epoch of the window just returned.
        wrapped: that window starts a new epoch after a wrap (reset the state).
        start: its first row. ``position``: first row of the NEXT window (settable).
        end_of_epoch: True when the next window will wrap (e.g. time to validate).

    Exact resume: ``state_dict()`` / ``load_state_dict()`` store (epoch, position, wrapped); a
    restored stream yields the same windows as the original would have.

    Windows are views into one tensor on ``device``: do not modify them in place.
    """

    def __init__(
        self,
        ids: torch.Tensor,
        batch_size: int,
        horizon: int,
        device: torch.device | str | None = None,
        *,
        drop_last: bool = False,
    ):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.data = batchify(ids, batch_size).to(device)  # [L, B]
        self.batch_size = int(batch_size)
        self.horizon = int(horizon)
        self.drop_last = bool(drop_last)
        self.rows = self.data.shape[0]
        need = self.horizon + 1 if drop_last else 2
        if self.rows < need:
            raise ValueError(
                f"{self.rows} rows per stream are too few for horizon {horizon} "
                f"(batch_size {batch_size}, drop_last={drop_last})"
            )
        self.epoch = 0
        self._position = 0
        self.wrapped = False
        self.start: int | None = None

    # The last row has no next symbol, so targets exist for rows 0 .. L-2: L-1 predictions per stream.
    @property
    def _targets_per_stream(self) -> int:
        return self.rows - 1

    @property
    def position(self) -> int:
        return self._position

    @position.setter
    def position(self, value: int) -> None:
        if not 0 <= int(value) <= self._targets_per_stream:
            raise ValueError(f"position {value} outside [0, {self._targets_per_stream}]")
        self._position = int(value)

    @property
    def windows_per_epoch(self) -> int:
        n, t = self._targets_per_stream, self.horizon
        return n // t if self.drop_last else -(-n // t)

    @property
    def end_of_epoch(self) -> bool:
        remaining = self._targets_per_stream - self._position
        return remaining < (self.horizon if self.drop_last else 1)

    def __iter__(self) -> "CharStream":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs [T, B] long, targets [T, B] long)``; ``targets[t] = inputs[t+1]`` within
        the window and the last target is the first input of the next window."""
        wrapped = False
        if self.end_of_epoch:
            self.epoch += 1
            self._position = 0
            wrapped = True
        p = self._position
        t = min(self.horizon, self._targets_per_stream - p)
        self.start, self.wrapped = p, wrapped
        self._position = p + t
        return self.data[p : p + t], self.data[p + 1 : p + 1 + t]

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "position": self._position,
            "wrapped": self.wrapped,
            "start": self.start,
            "batch_size": self.batch_size,
            "rows": self.rows,
            "horizon": self.horizon,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Restore the position. The stream must be built over the same data and batch size (the
        position is a row of ``batchify(ids, B)``); the horizon may differ."""
        if state["batch_size"] != self.batch_size or state["rows"] != self.rows:
            raise ValueError(
                f"stream state is for batch_size={state['batch_size']}, rows={state['rows']}; "
                f"this stream has batch_size={self.batch_size}, rows={self.rows}"
            )
        self.position = state["position"]
        self.epoch = int(state["epoch"])
        self.wrapped = bool(state.get("wrapped", False))
        self.start = state.get("start")
