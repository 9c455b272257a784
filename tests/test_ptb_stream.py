"""batchify and CharStream (dni_rnn_tasks/ptb/stream.py)."""

from __future__ import annotations

import pytest
import torch

import dni_rnn_tasks.ptb as P


def test_batchify():
    ids = torch.arange(23)
    x = P.batchify(ids, 4)
    assert x.shape == (5, 4) and x.dtype == torch.long and x.is_contiguous()
    for b in range(4):  # each column is a contiguous stretch of the corpus
        assert x[:, b].tolist() == list(range(5 * b, 5 * b + 5))
    assert P.batchify(ids, 1).shape == (23, 1)
    with pytest.raises(ValueError):
        P.batchify(ids, 24)
    with pytest.raises(ValueError):
        P.batchify(ids.view(1, -1), 2)


def collect(stream, n):
    out = []
    for _ in range(n):
        x, y = next(stream)
        out.append((x.clone(), y.clone(), stream.epoch, stream.wrapped, stream.start))
    return out


@pytest.mark.parametrize("horizon", [1, 3, 5])
def test_charstream_covers_stream_and_wraps(horizon):
    ids = torch.arange(43)  # B=4 -> L=10 rows, 9 targets per stream
    B, L = 4, 10
    data = P.batchify(ids, B)
    s = P.CharStream(ids, B, horizon)
    assert s.windows_per_epoch == -(-(L - 1) // horizon)
    xs, ys = [], []
    for k in range(s.windows_per_epoch):
        x, y = next(s)
        assert s.epoch == 0 and not s.wrapped
        assert x.shape[1] == B and x.shape == y.shape and x.dtype == torch.long
        assert x.shape[0] == min(horizon, L - 1 - k * horizon)
        xs.append(x)
        ys.append(y)
    assert s.end_of_epoch
    X, Y = torch.cat(xs), torch.cat(ys)
    assert torch.equal(X, data[:-1]) and torch.equal(Y, data[1:])  # contiguous, shifted by one
    for b in range(B):  # targets are the next corpus symbols within each stream
        assert torch.equal(Y[:, b], ids[b * L + 1 : (b + 1) * L])
    x, y = next(s)  # wrap
    assert s.wrapped and s.epoch == 1 and s.start == 0
    assert torch.equal(x, data[: x.shape[0]])
    next(s)
    assert not s.wrapped and s.epoch == 1


def test_charstream_drop_last():
    ids = torch.arange(40)  # B=2 -> L=20, 19 targets
    s = P.CharStream(ids, 2, 5, drop_last=True)
    assert s.windows_per_epoch == 3
    shapes = [next(s)[0].shape[0] for _ in range(4)]
    assert shapes == [5, 5, 5, 5] and s.wrapped and s.epoch == 1
    with pytest.raises(ValueError):
        P.CharStream(torch.arange(10), 2, 5, drop_last=True)


def test_charstream_resume_identical():
    ids = torch.randint(0, 50, (1003,))
    a = P.CharStream(ids, 7, 6)
    collect(a, 11)
    state = a.state_dict()
    rest_a = collect(a, 40)  # crosses at least one wrap (23 windows per epoch)
    assert any(w[3] for w in rest_a)
    b = P.CharStream(ids, 7, 6)
    b.load_state_dict(state)
    rest_b = collect(b, 40)
    for wa, wb in zip(rest_a, rest_b):
        assert torch.equal(wa[0], wb[0]) and torch.equal(wa[1], wb[1])
        assert wa[2:] == wb[2:]
    # Resume exactly at the end of an epoch: the next window still reports the wrap.
    c = P.CharStream(ids, 7, 6)
    collect(c, c.windows_per_epoch)
    d = P.CharStream(ids, 7, 6)
    d.load_state_dict(c.state_dict())
    next(c), next(d)
    assert c.wrapped and d.wrapped and c.epoch == d.epoch == 1
    # The position is settable, and incompatible states are refused.
    d.position = 5
    assert next(d)[0].equal(P.batchify(ids, 7)[5:11])
    with pytest.raises(ValueError):
        P.CharStream(ids, 8, 6).load_state_dict(state)
    with pytest.raises(ValueError):
        d.position = 10_000


def iter_eval_windows(ids, batch_size, horizon):
    """One pass over a split in windows ``(inputs [T, B], targets [T, B])`` (the last one may be shorter),
    the state carried across all of them: how ``PTBTask`` scores a split, as a reference."""
    data = P.batchify(ids, batch_size)
    n = data.shape[0] - 1
    for p in range(0, n, horizon):
        t = min(horizon, n - p)
        yield data[p : p + t], data[p + 1 : p + 1 + t]


def test_iter_eval_windows():
    ids = torch.arange(50)
    for B, T in [(1, 7), (3, 4), (5, 100)]:
        data = P.batchify(ids, B)
        wins = list(iter_eval_windows(ids, B, T))
        X = torch.cat([x for x, _ in wins])
        Y = torch.cat([y for _, y in wins])
        assert torch.equal(X, data[:-1]) and torch.equal(Y, data[1:])
        assert Y.numel() == B * (50 // B - 1)
        assert all(x.shape[0] == T for x, _ in wins[:-1])
