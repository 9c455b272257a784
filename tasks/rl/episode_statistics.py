"""Episode return and length per sub-environment of a torch-speaking vector env, tracked on the device."""

from __future__ import annotations

from typing import Any

import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

__all__ = ["TorchRecordEpisodeStatistics"]


def _find_device(env: VectorEnv) -> torch.device:
    """The ``device`` of the first env in a wrapper chain that has one (CPU if none has)."""
    while True:
        device = getattr(env, "device", None)
        if device is not None:
            return torch.device(device)
        if not isinstance(env, VectorWrapper):
            return torch.device("cpu")
        env = env.env


class TorchRecordEpisodeStatistics(VectorWrapper):
    """Episode return and length per sub-environment, tracked on the device.

    Every ``step`` adds ``infos[stats_key] = {"r": (B,) float32, "l": (B,) int64}`` and the mask
    ``infos["_" + stats_key]`` ``(B,)`` bool of the sub-environments whose episode ended on this step
    (terminated or truncated); ``r`` and ``l`` are 0 elsewhere. Unlike gymnasium's wrapper, the
    entries are present on every step (deciding whether any episode ended would need a host sync):
    read the mask. Elapsed time ("t") and the return/length queues are not kept, for the same reason.

    Autoreset is honoured as in gymnasium: under NEXT_STEP (and DISABLED) the reset pseudo-step that
    follows an episode's end counts toward neither the ended nor the next episode; under SAME_STEP
    the step that ends an episode starts the next at once. ``reset(options={"reset_mask": mask})``
    zeroes the statistics of the masked sub-environments only.

    Args:
        env: a vector env returning torch tensors (a ``TorchBatchedEnv`` or a ``TorchVectorEnv``).
        stats_key: the info key. Default: ``"episode"``.
        device: where statistics live. Default: the wrapped env's ``device``.
    """

    def __init__(self, env: VectorEnv, stats_key: str = "episode", device: torch.device | str | None = None) -> None:
        super().__init__(env)
        self.stats_key = stats_key
        self.device = torch.device(device) if device is not None else _find_device(env)
        self.autoreset_mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        B = self.num_envs
        self.episode_returns = torch.zeros(B, dtype=torch.float32, device=self.device)
        self.episode_lengths = torch.zeros(B, dtype=torch.long, device=self.device)
        self._previous_done = torch.zeros(B, dtype=torch.bool, device=self.device)

    def state_dict(self) -> dict[str, Any]:
        """The running statistics of every sub-environment (the wrapped env saves its own state)."""
        return {
            "episode_returns": self.episode_returns.clone(),
            "episode_lengths": self.episode_lengths.clone(),
            "previous_done": self._previous_done.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episode_returns = state["episode_returns"].to(self.device, copy=True)
        self.episode_lengths = state["episode_lengths"].to(self.device, copy=True)
        self._previous_done = state["previous_done"].to(self.device, copy=True)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        # read the mask before the wrapped env may pop it from options
        reset_mask = None if options is None else options.get("reset_mask")
        observation, infos = self.env.reset(seed=seed, options=options)
        if reset_mask is None:
            mask = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        else:
            mask = torch.as_tensor(reset_mask, dtype=torch.bool, device=self.device)
        self.episode_returns.masked_fill_(mask, 0.0)
        self.episode_lengths.masked_fill_(mask, 0)
        # out of place: the previous mask was handed out as infos['_episode']
        self._previous_done = self._previous_done & ~mask
        return observation, infos

    def step(self, actions: Any) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        observation, reward, terminated, truncated, infos = self.env.step(actions)
        if self.stats_key in infos or f"_{self.stats_key}" in infos:
            raise ValueError(f"TorchRecordEpisodeStatistics: key {self.stats_key!r} already in infos {list(infos)}")
        reward = torch.as_tensor(reward, device=self.device)
        if self.autoreset_mode is not AutoresetMode.SAME_STEP:
            # the step after an episode's end only resets: start counting from zero, skip it
            self.episode_returns.masked_fill_(self._previous_done, 0.0)
            self.episode_lengths.masked_fill_(self._previous_done, 0)
            counted = ~self._previous_done
            self.episode_returns.add_(reward * counted)
            self.episode_lengths.add_(counted.long())
        else:
            self.episode_returns.add_(reward)
            self.episode_lengths.add_(1)
        done = torch.as_tensor(terminated, device=self.device) | torch.as_tensor(truncated, device=self.device)
        infos = dict(infos)
        infos[self.stats_key] = {
            "r": torch.where(done, self.episode_returns, 0.0),
            "l": torch.where(done, self.episode_lengths, 0),
        }
        infos[f"_{self.stats_key}"] = done
        if self.autoreset_mode is AutoresetMode.SAME_STEP:
            self.episode_returns.masked_fill_(done, 0.0)
            self.episode_lengths.masked_fill_(done, 0)
        self._previous_done = done
        return observation, reward, terminated, truncated, infos
