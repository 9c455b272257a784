"""The base class of the batched torch environments: autoreset, partial resets, seeding, state.

Every environment here is a ``gymnasium.vector.VectorEnv`` whose whole batch lives in tensors on
one ``device``: ``step`` advances all ``num_envs`` sub-environments with a fixed sequence of tensor
operations, with no Python loop over environments and no host-device synchronisation (no
``.item()``, no Python ``if`` on a tensor value), so that a GPU learner never waits for its
environments. Observations, rewards, terminations and truncations are returned as tensors on the
device; the tensors returned by one call are never modified by a later call.

Autoreset follows gymnasium 1.x (``metadata["autoreset_mode"]``, ``AutoresetMode.NEXT_STEP`` by
default): the ``step`` after a step where a sub-environment terminated or was truncated resets that
sub-environment and returns the first observation of its new episode with reward 0,
``terminated = truncated = False``, and the action ignored. ``SAME_STEP`` (the new episode's first
observation returned at once, the ended one's last in ``infos["final_obs"]`` with mask
``infos["_final_obs"]``) and ``DISABLED`` (only ``reset(options={"reset_mask": mask})`` resets; stepping
a finished sub-environment is undefined) are supported as well.

Randomness comes from one ``torch.Generator`` on the device (``self.generator``), seeded by
``reset(seed=...)``; without a seed it starts from a non-deterministic seed.

Each environment family has its own module (``memory_chain``, ``card_games``, ``cartpole``); the
package's ``__init__`` registers their ids with gymnasium (``registry``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

__all__ = ["TorchBatchedEnv"]


class TorchBatchedEnv(gymnasium.vector.VectorEnv):
    """Base class: a batch of ``num_envs`` environments stepped as tensor operations on ``device``.

    A subclass describes one environment by three batched methods over its state tensors and
    leaves autoreset, partial resets and seeding to this class:

    - ``_transition(actions)``: advance every sub-environment by one step, in place, and return
      ``(reward, terminated, truncated)``. Sub-environments whose episode is over are advanced too
      (their rows are then discarded by a restart), so a transition must stay in range for them.
    - ``_restart(mask)``: start a new episode where ``mask`` ``(B,)`` is True, leaving the others.
    - ``_observe()``: the observation of every sub-environment's current state, as a new tensor.
    - ``state_tensors``: the names of the tensor attributes that hold that state (for ``state_dict``);
      helpers with state of their own (decks) are added by overriding ``state_dict`` / ``load_state_dict``.

    The observation is a function of the state, so a partial reset returns the current observation
    of the sub-environments it keeps without storing it, and under NEXT_STEP one step costs one
    transition, one (masked) restart and one observation.

    Args:
        num_envs: number of sub-environments ``B``.
        single_observation_space: observation space of one sub-environment.
        single_action_space: action space of one sub-environment.
        device: where the state and all returned tensors live. Default: ``"cpu"``.
        autoreset_mode: a ``gymnasium.vector.AutoresetMode`` (or its value). Default: ``NEXT_STEP``.

    Returns of ``step``:
        observation ``(B, *single_observation_space.shape)``, reward ``(B,)`` float32,
        terminated ``(B,)`` bool, truncated ``(B,)`` bool, infos (a dict; empty unless SAME_STEP).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }
    state_tensors: ClassVar[tuple[str, ...]] = ()
    """Names of the tensor attributes ``(B, ...)`` that make up the sub-environments' state."""

    def __init__(
        self,
        num_envs: int,
        single_observation_space: gymnasium.Space,
        single_action_space: gymnasium.Space,
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"{type(self).__name__}: num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, num_envs)
        self.action_space = batch_space(single_action_space, num_envs)
        self.metadata = {**type(self).metadata, "autoreset_mode": AutoresetMode(autoreset_mode)}
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        # Sub-environments whose previous step ended their episode (restarted by the next step).
        self._autoreset_pending = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self._all_envs = torch.ones(num_envs, dtype=torch.bool, device=self.device)
        self._has_been_reset = False

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]

    @property
    def lag(self) -> int | None:
        """Observations between a cue and the action that must recall it; None when not a memory task."""
        return None

    @property
    def success_reward(self) -> float | None:
        """An episode succeeds when its last reward exceeds this; None: the environment has no success."""
        return None

    # -- checkpoints -------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything that decides the next steps: the state tensors, pending autoresets, the generator."""
        return {
            "tensors": {name: getattr(self, name).clone() for name in self.state_tensors},
            "autoreset_pending": self._autoreset_pending.clone(),
            "has_been_reset": self._has_been_reset,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` of an environment built with the same arguments."""
        for name in self.state_tensors:
            current, saved = getattr(self, name), state["tensors"][name]
            if saved.shape != current.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: expected {name} of shape "
                    f"{tuple(current.shape)}, got {tuple(saved.shape)}"
                )
            current.copy_(saved)
        self._autoreset_pending = state["autoreset_pending"].to(self.device, copy=True)
        self._has_been_reset = state["has_been_reset"]
        self.generator.set_state(state["generator"])

    # -- what a subclass provides ------------------------------------------------------------------

    def _transition(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _restart(self, mask: torch.Tensor) -> None:
        raise NotImplementedError

    def _observe(self) -> torch.Tensor:
        raise NotImplementedError

    # -- the VectorEnv contract --------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Reset all sub-environments, or those in ``options["reset_mask"]``.

        Args:
            seed: if given, reseeds ``self.generator`` (one seed for the whole batch).
            options: ``{"reset_mask": mask}`` with a ``(B,)`` bool tensor or array resets only the
                masked sub-environments; the others keep their state and their observation.

        Returns:
            ``(observation, {})``, the observation batched ``(B, ...)`` on the device.
        """
        if seed is not None:
            if not isinstance(seed, int):
                raise TypeError(
                    f"{type(self).__name__}.reset: seed must be an int (one seed for the batch), "
                    f"got {type(seed).__name__}"
                )
            super().reset(seed=seed)
            self.generator.manual_seed(seed)
        reset_mask = None if options is None else options.get("reset_mask")
        if reset_mask is None or not self._has_been_reset:
            mask = self._all_envs
        else:
            mask = torch.as_tensor(reset_mask, device=self.device)
            if mask.shape != (self.num_envs,) or mask.dtype != torch.bool:
                raise ValueError(
                    f"{type(self).__name__}.reset: options['reset_mask'] must be a bool tensor of "
                    f"shape ({self.num_envs},), got dtype {mask.dtype} and shape {tuple(mask.shape)}"
                )
        self._restart(mask)
        self._autoreset_pending = self._autoreset_pending & ~mask
        self._has_been_reset = True
        return self._observe(), {}

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Advance every sub-environment by one step.

        Args:
            actions: ``(B, *single_action_space.shape)`` tensor (or array) of actions.

        Returns:
            ``(observation, reward, terminated, truncated, infos)`` as documented in the class.
        """
        if not self._has_been_reset:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
        actions = torch.as_tensor(actions, device=self.device)
        reward, terminated, truncated = self._transition(actions)
        infos: dict[str, Any] = {}
        mode = self.metadata["autoreset_mode"]
        if mode is AutoresetMode.NEXT_STEP:
            restarting = self._autoreset_pending
            self._restart(restarting)
            reward = reward.masked_fill(restarting, 0.0)
            terminated = terminated & ~restarting
            truncated = truncated & ~restarting
            self._autoreset_pending = terminated | truncated
        elif mode is AutoresetMode.SAME_STEP:
            done = terminated | truncated
            infos = {"final_obs": self._observe(), "_final_obs": done}
            self._restart(done)
        return self._observe(), reward, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        pass
