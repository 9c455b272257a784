"""A batch of observations of any gymnasium space as flat float features, one network input for every task."""

from __future__ import annotations

from typing import Any

import gymnasium
import torch
import torch.nn.functional as F

__all__ = ["flatten_observation"]


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
        return torch.cat([F.one_hot(codes[:, i], int(n)) for i, n in enumerate(space.nvec.reshape(-1))], dim=1).to(
            torch.float32
        )
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        return observation.reshape(observation.shape[0], -1).to(torch.float32)
    if isinstance(space, spaces.Tuple):
        return torch.cat([flatten_observation(s, o) for s, o in zip(space.spaces, observation)], dim=1)
    if isinstance(space, spaces.Dict):
        return torch.cat([flatten_observation(s, observation[k]) for k, s in space.spaces.items()], dim=1)
    raise TypeError(f"flatten_observation: unsupported space {space}")
