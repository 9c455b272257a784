"""Lambda-returns within a window against a per-step reference (dni_rnn_tasks/rl/losses.py)."""

import torch

from dni_rnn_tasks.rl.losses import lambda_returns


def reference_lambda_returns(r, v, boot, term, trunc, valid, gamma, lam):
    """Forward view, one step at a time: G^lam = (1-lam) sum_{n<N} lam^(n-1) G^(n) + lam^(N-1) G^(N), where
    N counts the steps to the window's or the episode's end; a terminated episode's G^(n) does not bootstrap,
    a truncated one's bootstraps from the value of its final observation (the next step's value)."""
    steps = len(r)
    values = list(v) + [boot]
    out = []
    for t in range(steps):
        if not valid[t]:
            out.append(0.0)
            continue
        n_step, total, discount = [], 0.0, 1.0
        for k in range(t, steps):
            total += discount * r[k]
            discount *= gamma
            if term[k]:
                n_step.append(total)
                break
            n_step.append(total + discount * values[k + 1])
            if trunc[k]:
                break
        n = len(n_step)
        out.append(sum((1 - lam) * lam ** (i - 1) * n_step[i - 1] for i in range(1, n)) + lam ** (n - 1) * n_step[-1])
    return out


def test_lambda_returns_match_a_per_step_reference():
    F_, T_ = False, True
    columns = [  # rewards, terminated, truncated, valid (pseudo-step after every end)
        ([0.0, 0.0, 1.0, 0.0, 0.0, 0.5, 0.0], [F_, F_, T_, F_, F_, F_, F_], [F_] * 7, [T_, T_, T_, F_, T_, T_, T_]),
        ([1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0], [F_] * 7, [F_, T_, F_, F_, F_, F_, F_], [T_, T_, F_, T_, T_, T_, T_]),
        ([0.3, -0.2, 0.0, 0.7, 0.1, 0.0, -1.0], [F_] * 7, [F_] * 7, [T_] * 7),
        ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0], [F_, F_, F_, F_, F_, F_, T_], [F_] * 7, [F_, T_, T_, T_, T_, T_, T_]),
    ]
    gen = torch.Generator().manual_seed(1)
    values = torch.randn(7, 4, generator=gen)
    bootstrap = torch.randn(4, generator=gen)
    stack = lambda i, dtype: torch.tensor([c[i] for c in columns], dtype=dtype).T  # noqa: E731
    rewards, term, trunc, valid = (
        stack(0, torch.float64),
        stack(1, torch.bool),
        stack(2, torch.bool),
        stack(3, torch.bool),
    )
    for gamma, lam in [(0.99, 0.95), (0.9, 0.0), (0.8, 1.0)]:
        got = lambda_returns(rewards, values, bootstrap, term, trunc, valid, gamma, lam)
        for b, (r, te, tr, va) in enumerate(columns):
            want = reference_lambda_returns(r, values[:, b].tolist(), bootstrap[b].item(), te, tr, va, gamma, lam)
            assert torch.allclose(got[:, b], torch.tensor(want)), (gamma, lam, b)
