"""Options of the ``rl`` task: one dataclass, one ``--flag`` per field."""

from __future__ import annotations

import json
from dataclasses import dataclass

from dni_rnn.config import option

__all__ = ["RLOptions"]


@dataclass
class RLOptions:
    env: str = option(
        "dni_rnn/MemoryChain-v0",
        "Environment id: dni_rnn/... (torch-native) or any gymnasium id, e.g. popgym:popgym-RepeatPreviousEasy-v0.",
    )
    memory_length: int | None = option(
        None, "Lag of envs that take a memory_length (MemoryChain); None: the env's default."
    )
    env_kwargs: str = option("{}", "JSON object of extra keyword arguments for the environment, e.g. '{\"k\": 8}'.")
    vectorization_mode: str = option(
        "sync", "sync or async: how gymnasium vectorises a non-dni_rnn id (through TorchVectorEnv)."
    )
    gamma: float = option(0.99, "Discount factor.")
    td_lambda: float = option(0.95, "lambda of the lambda-returns computed within a window.")
    reward_scale: float = option(
        1.0,
        "Rewards are multiplied by this for learning (returns, value targets, the previous-reward input); "
        "statistics stay raw.",
    )
    value_coef: float = option(0.5, "Weight of the value loss 0.5 (V - G)^2.")
    entropy_coef: float = option(0.01, "Weight of the entropy bonus.")
    prev_action: bool = option(True, "Feed the one-hot previous action to the core.")
    prev_reward: bool = option(True, "Feed the previous reward to the core.")
    final_fraction: float = option(
        0.1, "summary(): success rate / return over the episodes that ended in this last fraction of the run's windows."
    )

    def __post_init__(self):
        if self.memory_length is not None and self.memory_length < 1:
            raise ValueError(f"--memory-length must be >= 1, got {self.memory_length}")
        for name in ("gamma", "td_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")
        if not self.reward_scale > 0:
            raise ValueError(f"--reward-scale must be > 0, got {self.reward_scale}")
        for name in ("value_coef", "entropy_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.final_fraction <= 1.0:
            raise ValueError(f"--final-fraction must be in (0, 1], got {self.final_fraction}")
        if self.vectorization_mode not in ("sync", "async"):
            raise ValueError(f"--vectorization-mode must be sync or async, got {self.vectorization_mode!r}")
        try:
            kwargs = json.loads(self.env_kwargs)
        except json.JSONDecodeError as error:
            raise ValueError(f"--env-kwargs is not valid JSON ({error})") from None
        if not isinstance(kwargs, dict):
            raise ValueError(f"--env-kwargs must be a JSON object, got {self.env_kwargs!r}")
