"""Options of the ``rl`` task: one dataclass, one ``--flag`` per field."""

from __future__ import annotations

import json
from dataclasses import dataclass

from dni_rnn.config import check_fields, option

__all__ = ["RLOptions"]


@dataclass
class RLOptions:
    env: str = option(
        "dni_rnn/MemoryChain-v0",
        "Environment id: dni_rnn/... (torch-native) or any gymnasium id, e.g. popgym:popgym-RepeatPreviousEasy-v0.",
    )
    memory_length: int | None = option(
        None, "Lag of envs that take a memory_length (MemoryChain); None: the env's default.", low=1
    )
    env_kwargs: str = option("{}", "JSON object of extra keyword arguments for the environment, e.g. '{\"k\": 8}'.")
    vectorization_mode: str = option(
        "sync",
        "sync or async: how gymnasium vectorises a non-dni_rnn id (through TorchVectorEnv).",
        choices=("sync", "async"),
    )
    gamma: float = option(0.99, "Discount factor.", low=0.0, high=1.0)
    td_lambda: float = option(0.95, "lambda of the lambda-returns computed within a window.", low=0.0, high=1.0)
    reward_scale: float = option(
        1.0,
        "Rewards are multiplied by this for learning (returns, value targets, the previous-reward input); "
        "statistics stay raw.",
        low=0.0,
    )
    advantage_scale: str = option(
        "none",
        "none, or running: the policy gradient's advantages are divided by the root of a running mean of the "
        "squared advantage over past windows (--advantage-decay), so that it keeps one scale as the value "
        "fits; returns and the value loss are unchanged.",
        choices=("none", "running"),
    )
    advantage_decay: float = option(
        0.999,
        "running: the weight of the past in the running mean of the squared advantage, per window "
        "(bias-corrected, as Adam's moments).",
        low=0.0,
        high=1.0,
    )
    value_coef: float = option(0.5, "Weight of the value loss 0.5 (V - G)^2.", low=0.0)
    entropy_coef: float = option(0.01, "Weight of the entropy bonus.", low=0.0)
    sg_policy_weight: float = option(
        1.0,
        "Weight of the policy's terms (policy gradient and entropy bonus) in what M predicts: M's target is the "
        "future gradient of value_coef * value loss + w * (policy terms); 0: the value loss only. The core is "
        "still trained on the whole loss. Below 1 costs a second, state-only backward per window.",
        low=0.0,
        high=1.0,
    )
    prev_action: bool = option(True, "Feed the one-hot previous action to the core.")
    prev_reward: bool = option(True, "Feed the previous reward to the core.")
    sg_context: str = option(
        "none",
        "cDNI: what M reads besides the state at a boundary: none, next_input (the input of the step after "
        "the boundary: the observation with its time feature, the previous action and reward; already seen when "
        "M is asked) or past_inputs (the last --context-steps inputs of the boundary's episode, across windows).",
        choices=("none", "next_input", "past_inputs"),
    )
    context_steps: int = option(
        0,
        "past_inputs: how many of the latest inputs of the boundary's episode M reads (0: the window's T steps).",
        low=0,
    )
    final_fraction: float = option(
        0.1,
        "summary(): success rate / return over the episodes that ended in this last fraction of the run's windows.",
        low=0.0,
        high=1.0,
    )

    def __post_init__(self):
        check_fields(self)
        if self.context_steps and self.sg_context != "past_inputs":
            raise ValueError(f"--context-steps is read by --sg-context past_inputs only, not {self.sg_context}")
        if not self.advantage_decay < 1:
            raise ValueError(f"--advantage-decay must be < 1 (a running mean must forget), got {self.advantage_decay}")
        # Zero is in range for these bounds but not for a scale or a fraction of the run.
        for name in ("reward_scale", "final_fraction"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        try:
            kwargs = json.loads(self.env_kwargs)
        except json.JSONDecodeError as error:
            raise ValueError(f"--env-kwargs is not valid JSON ({error})") from None
        if not isinstance(kwargs, dict):
            raise ValueError(f"--env-kwargs must be a JSON object, got {self.env_kwargs!r}")
