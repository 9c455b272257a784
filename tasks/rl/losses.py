"""The learner's targets and loss: lambda-returns within a window, and the actor-critic head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dni_rnn.engine import Window
from dni_rnn.head import Head

__all__ = ["ActorCriticHead", "lambda_returns"]


def lambda_returns(
    rewards: Tensor,
    values: Tensor,
    bootstrap: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    valid: Tensor,
    gamma: float,
    lam: float,
) -> Tensor:
    """Lambda-returns ``[T, B]`` within one window, 0 on masked (pseudo) steps.

    ``values[t]`` is ``V(x_t)`` (acting pass), ``bootstrap`` ``[B]`` the value of the step after the
    window. ``G_t = r_t + gamma (1 - term_t) [(1 - lam_t) V_{t+1} + lam_t G_{t+1}]``, ``lam_t = lam (1 -
    trunc_t)``, ``G_T = V_T``: a terminated step does not bootstrap, a truncated one bootstraps from
    ``V_{t+1}``, the value of the final observation (the pseudo-step's input), and nothing flows back
    across an episode's end.
    """
    steps = rewards.shape[0]
    next_values = torch.cat([values[1:], bootstrap.unsqueeze(0)])
    nonterminal = (~terminated).to(values.dtype)
    lam_t = lam * (~truncated).to(values.dtype)
    mask = valid.to(values.dtype)
    returns = torch.empty_like(values)
    g = bootstrap
    for t in reversed(range(steps)):
        g = rewards[t] + gamma * nonterminal[t] * ((1.0 - lam_t[t]) * next_values[t] + lam_t[t] * g)
        g = g * mask[t]
        returns[t] = g
    return returns


class ActorCriticHead(Head):
    """Policy head (categorical logits) and value head on the core's outputs; the actor-critic loss."""

    def __init__(
        self, hidden: int, num_actions: int, value_coef: float, entropy_coef: float, sg_policy_weight: float = 1.0
    ):
        super().__init__()
        if not 0.0 <= sg_policy_weight <= 1.0:
            raise ValueError(f"sg_policy_weight must be in [0, 1], got {sg_policy_weight}")
        self.policy = nn.Linear(hidden, num_actions)
        self.value = nn.Linear(hidden, 1)
        self.value_coef = value_coef
        self.entropy_coef = entropy_coef
        self.sg_policy_weight = sg_policy_weight
        with torch.no_grad():  # a near-uniform first policy
            self.policy.weight.mul_(0.01)
            self.policy.bias.zero_()

    def predict(self, outputs: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits [..., A], values [...])``: what acting reads."""
        return self.policy(outputs), self.value(outputs).squeeze(-1)

    def _terms(self, outputs: Tensor, window: Window) -> tuple[Tensor, Tensor, Tensor]:
        """``(policy, value, entropy)``: the three scalar terms of the loss, each summed over the valid steps
        and divided by ``T B``."""
        targets = window.targets
        logits, values = self.predict(outputs)  # (T, B, A), (T, B)
        log_probs = F.log_softmax(logits, dim=-1)
        log_prob = log_probs.gather(-1, targets["actions"].unsqueeze(-1)).squeeze(-1)
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        mask = targets["valid"].to(values.dtype)
        count = mask.numel()  # T * B whatever the mask: the same normalisation in every window
        policy = -(log_prob * targets["advantages"].to(values.dtype) * mask).sum() / count
        value = 0.5 * ((values - targets["returns"].to(values.dtype)).pow(2) * mask).sum() / count
        entropy = (entropy * mask).sum() / count
        return policy, value, entropy

    def loss(self, outputs: Tensor, window: Window) -> tuple[Tensor, dict[str, Tensor]]:
        policy, value, entropy = self._terms(outputs, window)
        loss = policy + self.value_coef * value - self.entropy_coef * entropy
        return loss, {
            "losses/policy": policy.detach(),
            "losses/value": value.detach(),
            "losses/entropy": entropy.detach(),
        }

    def sg_excluded_loss(self, outputs: Tensor, window: Window) -> Tensor | None:
        """``(1 - sg_policy_weight) (policy - entropy_coef entropy)``: with a weight below 1, ``M`` predicts the
        future gradient of the value loss plus only that fraction of the policy's terms, whose sampling noise
        swamps their signal while the policy plays at chance. ``None`` at weight 1 (no extra backward)."""
        if self.sg_policy_weight == 1.0:
            return None
        policy, _, entropy = self._terms(outputs, window)
        return (1.0 - self.sg_policy_weight) * (policy - self.entropy_coef * entropy)
