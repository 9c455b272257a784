"""The actor-critic's targets and loss (dni_rnn_tasks/rl/losses.py): lambda-returns within a window against a
per-step reference, and the part of the loss M's target leaves out."""

import pytest
import torch

from dni_rnn.window import Window
from dni_rnn_tasks.rl.losses import ActorCriticHead, lambda_returns


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


@pytest.mark.parametrize("weight", [0.0, 0.4])
def test_m_target_weights_the_policy_terms(weight):
    """sg_excluded_loss leaves (1 - w) of the policy's terms out of M's target: at w = 0 M predicts the value
    loss's gradient only; at w = 1 nothing is excluded (and no second backward is taken)."""
    torch.manual_seed(0)
    steps, batch, hidden = 3, 5, 4
    outputs = torch.randn(steps, batch, hidden)
    targets = {
        "actions": torch.randint(0, 2, (steps, batch)),
        "advantages": torch.randn(steps, batch),
        "returns": torch.randn(steps, batch),
        "valid": torch.rand(steps, batch) > 0.2,
    }
    window = Window(outputs, targets)
    head = ActorCriticHead(hidden, 2, value_coef=0.5, entropy_coef=0.01, sg_policy_weight=weight)
    loss, metrics = head.loss(outputs, window)
    excluded = head.sg_excluded_loss(outputs, window)
    policy_terms = metrics["losses/policy"] - 0.01 * metrics["losses/entropy"]
    torch.testing.assert_close(excluded, (1 - weight) * policy_terms)
    torch.testing.assert_close(loss - excluded, 0.5 * metrics["losses/value"] + weight * policy_terms)
    assert ActorCriticHead(hidden, 2, 0.5, 0.01).sg_excluded_loss(outputs, window) is None
    with pytest.raises(ValueError, match="sg_policy_weight"):
        ActorCriticHead(hidden, 2, 0.5, 0.01, sg_policy_weight=-0.1)
