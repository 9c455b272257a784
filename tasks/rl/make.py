"""The ``B`` environments of a run: a torch-native ``dni_rnn/...`` id, or any gymnasium id through the adapter."""

from __future__ import annotations

import importlib.util
import inspect
import json
from typing import Any

import gymnasium
import torch

from dni_rnn_tasks.rl import envs as torch_envs
from dni_rnn_tasks.rl.adapters import TorchVectorEnv
from dni_rnn_tasks.rl.episode_statistics import TorchRecordEpisodeStatistics
from dni_rnn_tasks.rl.options import RLOptions

__all__ = ["make_envs"]

NATIVE_PREFIX = torch_envs.NAMESPACE
POPGYM_PREFIX = "popgym-"


def make_envs(options: RLOptions, num_envs: int, device: torch.device) -> TorchRecordEpisodeStatistics:
    """The ``B`` environments of the run, returning torch tensors on ``device``, with episode statistics."""
    kwargs: dict[str, Any] = json.loads(options.env_kwargs)
    if options.memory_length is not None:
        kwargs["memory_length"] = options.memory_length
    env_id = options.env
    if env_id.startswith(NATIVE_PREFIX):
        if env_id not in gymnasium.registry:
            native = sorted(k for k in gymnasium.registry if k.startswith(NATIVE_PREFIX))
            raise ValueError(f"unknown env id {env_id!r}; torch-native ids are {', '.join(native)}")
        entry = gymnasium.registry[env_id].vector_entry_point
        env_class = gymnasium.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
        accepted = inspect.signature(env_class).parameters
        unknown = sorted(k for k in kwargs if k not in accepted)
        if unknown:
            raise ValueError(f"env {env_id!r} takes no argument {', '.join(unknown)}")
        try:
            envs = gymnasium.make_vec(
                env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device=device, **kwargs
            )
        except (TypeError, ValueError) as error:
            raise ValueError(f"env {env_id!r}: {error}") from None
    else:
        if env_id.startswith(POPGYM_PREFIX):
            # popgym registers its ids only once imported: gymnasium's "module:" prefix does that.
            raise ValueError(f"unknown env id {env_id!r}; popgym ids need the module prefix: --env popgym:{env_id}")
        module, colon, _ = env_id.partition(":")
        if colon and importlib.util.find_spec(module.split(".")[0]) is None:
            hint = " (pip install popgym==1.0.7, or pip install -e '.[reference]')" if module == "popgym" else ""
            raise ValueError(f"env {env_id!r}: module {module!r} is not installed{hint}")
        try:
            envs = TorchVectorEnv(
                env_id, num_envs=num_envs, vectorization_mode=options.vectorization_mode, device=device, **kwargs
            )
        except (gymnasium.error.Error, ImportError) as error:
            raise ValueError(f"unknown env id {env_id!r} ({str(error).splitlines()[0]})") from None
        except TypeError as error:
            raise ValueError(f"env {env_id!r}: {error}") from None
    if not isinstance(envs.single_action_space, gymnasium.spaces.Discrete):
        raise ValueError(f"env {env_id!r}: only Discrete action spaces are supported, got {envs.single_action_space}")
    return TorchRecordEpisodeStatistics(envs)
