"""Torch-speaking wrappers around gymnasium vector environments.

- ``TorchVectorEnv``: any gymnasium id (popgym's included) built by ``gymnasium.make_vec`` with
  ``vectorization_mode="sync"`` or ``"async"``; numpy outputs become torch tensors on a device and
  torch actions become numpy arrays. The wrapped env's ``metadata["autoreset_mode"]`` is kept.
- ``TorchRecordEpisodeStatistics``: gymnasium's ``RecordEpisodeStatistics`` vector wrapper for envs
  that return torch tensors (gymnasium's own one indexes numpy arrays with them and fails).
- ``flatten_observation``: a batch of observations of any space as ``(B, flatdim)`` float features
  (one-hot for discrete spaces), so one network input layer serves every task.

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
import torch.nn.functional as F
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

__all__ = ["TorchRecordEpisodeStatistics", "TorchVectorEnv", "flatten_observation"]


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


def _find_device(env: VectorEnv) -> torch.device:
    """The ``device`` of the first env in a wrapper chain that has one (CPU if none has)."""
    while True:
        device = getattr(env, "device", None)
        if device is not None:
            return torch.device(device)
        if not isinstance(env, VectorWrapper):
            return torch.device("cpu")
        env = env.env


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

    def step(
        self, actions: Any
    ) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        observation, reward, terminated, truncated, infos = self.env.step(_to_numpy(actions))
        return (
            _to_torch(observation, self.device),
            torch.tensor(reward, dtype=self.reward_dtype, device=self.device),
            torch.tensor(terminated, dtype=torch.bool, device=self.device),
            torch.tensor(truncated, dtype=torch.bool, device=self.device),
            _to_torch(infos, self.device),
        )


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

    def __init__(
        self, env: VectorEnv, stats_key: str = "episode", device: torch.device | str | None = None
    ) -> None:
        super().__init__(env)
        self.stats_key = stats_key
        self.device = torch.device(device) if device is not None else _find_device(env)
        self.autoreset_mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        B = self.num_envs
        self.episode_returns = torch.zeros(B, dtype=torch.float32, device=self.device)
        self.episode_lengths = torch.zeros(B, dtype=torch.long, device=self.device)
        self._previous_done = torch.zeros(B, dtype=torch.bool, device=self.device)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
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

    def step(
        self, actions: Any
    ) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        observation, reward, terminated, truncated, infos = self.env.step(actions)
        if self.stats_key in infos or f"_{self.stats_key}" in infos:
            raise ValueError(
                f"TorchRecordEpisodeStatistics: key {self.stats_key!r} already in infos {list(infos)}"
            )
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
        done = torch.as_tensor(terminated, device=self.device) | torch.as_tensor(
            truncated, device=self.device
        )
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


def flatten_observation(space: gymnasium.Space, observation: Any) -> torch.Tensor:
    """A batch of observations of ``space`` as float features ``(B, gymnasium.spaces.flatdim(space))``.

    ``Box`` and ``MultiBinary`` are flattened per sample; ``Discrete`` and ``MultiDiscrete`` become
    one-hot codes (concatenated per component); ``Tuple`` and ``Dict`` concatenate their parts in
    gymnasium's order. The layout is that of ``gymnasium.spaces.flatten``, batched.

    Args:
        space: the *single* observation space (``env.single_observation_space``).
        observation: a batch, ``(B, *space.shape)`` tensors (dicts/tuples of them for composite spaces).
    """
    spaces = gymnasium.spaces
    if isinstance(space, spaces.Discrete):
        return F.one_hot(observation.long() - int(space.start), int(space.n)).to(torch.float32)
    if isinstance(space, spaces.MultiDiscrete):
        batch = observation.shape[0]
        codes = observation.reshape(batch, -1).long() - torch.as_tensor(
            space.start.reshape(-1), device=observation.device
        )
        return torch.cat(
            [F.one_hot(codes[:, i], int(n)) for i, n in enumerate(space.nvec.reshape(-1))], dim=1
        ).to(torch.float32)
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        return observation.reshape(observation.shape[0], -1).to(torch.float32)
    if isinstance(space, spaces.Tuple):
        return torch.cat(
            [flatten_observation(s, o) for s, o in zip(space.spaces, observation)], dim=1
        )
    if isinstance(space, spaces.Dict):
        return torch.cat(
            [flatten_observation(s, observation[k]) for k, s in space.spaces.items()], dim=1
        )
    raise TypeError(f"flatten_observation: unsupported space {space}")
