"""Any gymnasium vector environment (popgym's included) seen through torch tensors on a device.

``TorchVectorEnv`` builds the env with ``gymnasium.make_vec`` (``vectorization_mode="sync"`` or
``"async"``); numpy outputs become torch tensors on a device and torch actions become numpy arrays. The
wrapped env's ``metadata["autoreset_mode"]`` is kept. (gymnasium's own ``wrappers.vector.NumpyToTorch``
converts too, but keeps float64 rewards, leaves object arrays such as SAME_STEP's ``final_obs`` to fail
and does not convert ``reset_mask``.)

Example::

    envs = TorchRecordEpisodeStatistics(
        TorchVectorEnv("popgym:popgym-RepeatPreviousEasy-v0", num_envs=8, device="cuda"))
    obs, _ = envs.reset(seed=0)
    obs, reward, terminated, truncated, infos = envs.step(actions)  # tensors on cuda
    finished = infos["_episode"]; returns = infos["episode"]["r"][finished]
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorWrapper

__all__ = ["TorchVectorEnv"]


def _to_torch(value: Any, device: torch.device) -> Any:
    """numpy arrays (numeric or bool) -> tensors on ``device``, recursively through dicts/tuples.

    Object arrays (e.g. ``final_obs`` under SAME_STEP autoreset) and other values are returned as
    they are. Arrays are copied, so a vector env that reuses its buffers cannot alias the result.
    """
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return value
        return torch.tensor(value, device=device)
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        return torch.tensor(value, device=device)
    if isinstance(value, dict):
        return {key: _to_torch(item, device) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_to_torch(item, device) for item in value)
    return value


def _to_numpy(value: Any) -> Any:
    """Tensors -> numpy arrays on the host, recursively through dicts/tuples."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {key: _to_numpy(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_to_numpy(item) for item in value)
    return np.asarray(value)


class TorchVectorEnv(VectorWrapper):
    """A gymnasium vector env (numpy) seen through torch tensors on ``device``.

    Args:
        env: a gymnasium id (``"popgym:popgym-RepeatPreviousEasy-v0"`` imports popgym first) or an
            existing numpy ``VectorEnv``.
        num_envs: number of sub-environments when ``env`` is an id. Default: 1.
        vectorization_mode: ``"sync"`` or ``"async"`` when ``env`` is an id. Default: ``"sync"``.
        device: where returned tensors live. Default: ``"cpu"``.
        reward_dtype: dtype of returned rewards (gymnasium returns float64). Default: float32.
        vector_kwargs: passed to ``gymnasium.make_vec`` (e.g. ``{"autoreset_mode": ...}``).
        **env_kwargs: passed to the environment's constructor through ``gymnasium.make_vec``.

    ``reset`` accepts ``options={"reset_mask": mask}`` with a bool tensor or array. ``step`` accepts
    actions as tensors (any device) or arrays and returns ``(obs, reward, terminated, truncated,
    infos)``: tensors on ``device``, ``reward`` ``(B,)`` ``reward_dtype``, ``terminated`` and
    ``truncated`` ``(B,)`` bool, observations with the dtype numpy gave, infos with every numeric
    array converted (their ``_key`` masks included). Autoreset is the wrapped env's, visible in
    ``metadata["autoreset_mode"]`` (gymnasium's default: NEXT_STEP).
    """

    def __init__(
        self,
        env: str | VectorEnv,
        num_envs: int = 1,
        vectorization_mode: str = "sync",
        device: torch.device | str = "cpu",
        reward_dtype: torch.dtype = torch.float32,
        vector_kwargs: dict[str, Any] | None = None,
        **env_kwargs: Any,
    ) -> None:
        if isinstance(env, str):
            if vectorization_mode not in ("sync", "async"):
                raise ValueError(
                    f"TorchVectorEnv: vectorization_mode must be 'sync' or 'async', got "
                    f"{vectorization_mode!r} (a torch-native env needs no adapter)"
                )
            env = gymnasium.make_vec(
                env,
                num_envs=num_envs,
                vectorization_mode=vectorization_mode,
                vector_kwargs=vector_kwargs,
                **env_kwargs,
            )
        super().__init__(env)
        self.device = torch.device(device)
        self.reward_dtype = reward_dtype

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if options is not None:
            options = dict(options)  # gymnasium pops "reset_mask": leave the caller's dict alone
            if "reset_mask" in options:
                options["reset_mask"] = _to_numpy(options["reset_mask"]).astype(np.bool_)
        observation, infos = self.env.reset(seed=seed, options=options)
        return _to_torch(observation, self.device), _to_torch(infos, self.device)

    def step(self, actions: Any) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        observation, reward, terminated, truncated, infos = self.env.step(_to_numpy(actions))
        return (
            _to_torch(observation, self.device),
            torch.tensor(reward, dtype=self.reward_dtype, device=self.device),
            torch.tensor(terminated, dtype=torch.bool, device=self.device),
            torch.tensor(truncated, dtype=torch.bool, device=self.device),
            _to_torch(infos, self.device),
        )
