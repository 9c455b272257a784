"""DNI in your own training loop: a character language model with a plain ``nn.LSTM``, AdamW and a cosine schedule.

    python examples/own_loop.py                       # a small built-in text, a few seconds on a CPU
    python examples/own_loop.py --text my_corpus.txt --windows 20000 --horizon 8

Nothing here comes from the toolkit's trainer: the model, the optimiser, the schedule and the clipping are
the user's; :class:`dni_rnn.SyntheticBoundary` only adds the synthetic gradient at each window boundary.
"""

import argparse
import math
from pathlib import Path

import torch
from torch import nn

import dni_rnn

TEXT = (dni_rnn.__doc__ or "") * 20


class CharLM(nn.Module):
    def __init__(self, vocab: int, hidden: int):
        super().__init__()
        self.embed, self.lstm, self.readout = nn.Embedding(vocab, 32), nn.LSTM(32, hidden), nn.Linear(hidden, vocab)

    def forward(self, chars, state):  # chars [T, B] -> logits [T, B, V], (h, c)
        outputs, state = self.lstm(self.embed(chars), state)
        return self.readout(outputs), state


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text", type=Path, help="a UTF-8 text file (default: a small built-in text)")
    parser.add_argument("--windows", type=int, default=300)
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    text = args.text.read_text(encoding="utf-8") if args.text else TEXT
    vocab = sorted(set(text))
    data = torch.tensor([vocab.index(c) for c in text])
    streams = data[: len(data) // args.batch * args.batch].view(args.batch, -1).t()  # [steps, B]: B contiguous streams

    model = CharLM(len(vocab), args.hidden)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.windows)
    state = (torch.zeros(1, args.batch, args.hidden), torch.zeros(1, args.batch, args.hidden))
    boundary = dni_rnn.SyntheticBoundary(dni_rnn.state_size(state), scale=1.0, discount=0.9)
    position, losses = 0, []
    for _ in range(args.windows):
        if position + args.horizon + 1 > streams.shape[0]:
            position = 0  # back to the start: a new episode for every stream, nothing crosses this boundary
            state = tuple(torch.zeros_like(t) for t in state)
        chars = streams[position : position + args.horizon + 1]
        position += args.horizon
        start = boundary.start(state)  # s_0, a leaf
        logits, final = model(chars[:-1], start)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), chars[1:].flatten())
        optimizer.zero_grad()
        boundary.backward(loss, final)  # ONE backward: loss + <scale * M(s_T), s_T> / B
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        boundary.update()  # M regresses on its bootstrapped target
        state = boundary.carry(final)
        losses.append(loss.item() / math.log(2))
    bits = sum(losses[-50:]) / len(losses[-50:])
    print(f"bits per character over the last 50 windows: {bits:.3f} (first window: {losses[0]:.3f})")
    return bits


if __name__ == "__main__":
    main()
