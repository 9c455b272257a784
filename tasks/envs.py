"""Batched memory environments written as torch tensor operations.

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

Environments (the ids are registered with gymnasium when this module is imported)::

    MemoryChain            dni_rnn/MemoryChain-v0                      bsuite memory_len
    RepeatPrevious         dni_rnn/RepeatPrevious{,Easy,Medium,Hard}-v0  popgym 1.0.7
    RepeatFirst            dni_rnn/RepeatFirst{,Easy,Medium,Hard}-v0     popgym 1.0.7
    CountRecall            dni_rnn/CountRecall{,Easy,Medium,Hard}-v0     popgym 1.0.7
    PositionOnlyCartPole   dni_rnn/PositionOnlyCartPole-v0             CartPole-v1, obs [x, theta]

Build one with ``gymnasium.make_vec("dni_rnn/MemoryChain-v0", num_envs=64,
vectorization_mode="vector_entry_point", memory_length=32, device="cuda")`` (after
``import tasks.envs``, or with the id ``"tasks.envs:dni_rnn/MemoryChain-v0"``), or construct the class
directly.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

__all__ = [
    "COUNT_RECALL_PRESETS",
    "REPEAT_FIRST_PRESETS",
    "REPEAT_PREVIOUS_PRESETS",
    "CountRecall",
    "MemoryChain",
    "PositionOnlyCartPole",
    "RepeatFirst",
    "RepeatPrevious",
    "ShuffledDeck",
    "TorchBatchedEnv",
    "register_envs",
]


class TorchBatchedEnv(gymnasium.vector.VectorEnv):
    """Base class: a batch of ``num_envs`` environments stepped as tensor operations on ``device``.

    A subclass describes one environment by three batched methods over its state tensors and
    leaves autoreset, partial resets and seeding to this class:

    - ``_transition(actions)``: advance every sub-environment by one step, in place, and return
      ``(reward, terminated, truncated)``. Sub-environments whose episode is over are advanced too
      (their rows are then discarded by a restart), so a transition must stay in range for them.
    - ``_restart(mask)``: start a new episode where ``mask`` ``(B,)`` is True, leaving the others.
    - ``_observe()``: the observation of every sub-environment's current state, as a new tensor.

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


class ShuffledDeck:
    """A batch of ``B`` shuffled card decks dealt one card per call, seen through card categories.

    Dealing a uniformly shuffled deck card by card draws each card's category (suit, colour, rank)
    with probability proportional to the cards of that category still in the deck. So only the
    per-category counts are stored, ``(B, C)``, and a deal costs ``O(B * C)`` whatever the deck size:
    the sequence of categories has exactly the law of popgym's shuffled ``Deck``.

    Args:
        num_envs: ``B``.
        num_categories: ``C`` (4 suits, 2 colours or 13 ranks).
        cards_per_category: cards of each category in a full deck (e.g. 13 suits x num_decks).
        generator: the environment's ``torch.Generator``.
    """

    def __init__(
        self,
        num_envs: int,
        num_categories: int,
        cards_per_category: int,
        generator: torch.Generator,
    ) -> None:
        self.num_categories = num_categories
        self.cards_per_category = cards_per_category
        self.generator = generator
        self.cards_left = torch.zeros(
            num_envs, num_categories, dtype=torch.long, device=generator.device
        )  # (B, C)
        self._uniform = torch.empty(num_envs, dtype=torch.float64, device=generator.device)

    def refill(self, mask: torch.Tensor) -> None:
        """Put all cards back into the decks where ``mask`` ``(B,)`` is True (and reshuffle)."""
        self.cards_left.masked_fill_(mask[:, None], self.cards_per_category)

    def deal(self, mask: torch.Tensor) -> torch.Tensor:
        """Deal one card from the decks where ``mask`` ``(B,)`` is True; return categories ``(B,)``.

        Rows outside ``mask`` are dealt nothing and their returned category is meaningless.
        """
        # float64 so that floor(u * cards) is an exactly uniform card index for any deck size
        self._uniform.uniform_(generator=self.generator)
        cumulative = self.cards_left.cumsum(1)  # (B, C)
        card = (self._uniform * cumulative[:, -1]).floor_().long()  # (B,) index among cards left
        category = (card[:, None] >= cumulative).sum(1).clamp_(max=self.num_categories - 1)
        self.cards_left.scatter_add_(1, category[:, None], -mask[:, None].long())
        return category


class MemoryChain(TorchBatchedEnv):
    """bsuite's MemoryChain (experiment ``memory_len``) for a batch of environments.

    An episode lasts ``memory_length + 1`` steps. The observation ``(num_bits + 2,)`` float32 is
    bsuite's ``(1, num_bits + 2)`` observation without its leading singleton axis, in bsuite's layout
    ``[time, query, context_1, ..., context_n]``:

    - ``time = 1 - t / memory_length`` on every step,
    - ``query`` (the index of the context bit asked for; always 0 when ``num_bits = 1``) only at
      ``t = memory_length - 1``,
    - ``context = 2 * bits - 1`` (values +-1) only at ``t = 0``,

    where ``t`` is bsuite's internal timestep. As in bsuite, ``step`` returns the observation of the
    timestep *before* it advances the clock: ``reset`` and the first ``step`` both show ``t = 0``
    (the context), the ``k``-th step shows ``t = k - 1``, and the query (``t = memory_length - 1``)
    is shown by step ``memory_length``. The action of step ``memory_length + 1`` is the decision:
    reward ``+1`` if it equals the queried context bit (action 0 or 1), ``-1`` otherwise, and the
    episode terminates; every other step gives reward 0. The decision is taken ``memory_length``
    observations after the context was first shown.

    Args:
        num_envs: ``B``. Default: 1.
        memory_length: bsuite's ``memory_length`` (the lag). Default: 10.
        num_bits: context bits. Default: 1 (bsuite's memory_len experiment).
        device: Default: ``"cpu"``.
        autoreset_mode: Default: ``AutoresetMode.NEXT_STEP``.

    Spaces: observation ``Box((num_bits + 2,), float32)``, action ``Discrete(2)``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        memory_length: int = 10,
        num_bits: int = 1,
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if memory_length < 1 or num_bits < 1:
            raise ValueError(
                f"MemoryChain: memory_length and num_bits must be >= 1, got {memory_length}, {num_bits}"
            )
        low = np.array([0.0, 0.0] + [-1.0] * num_bits, dtype=np.float32)
        high = np.array([1.0, num_bits - 1] + [1.0] * num_bits, dtype=np.float32)
        super().__init__(
            num_envs,
            gymnasium.spaces.Box(low, high, dtype=np.float32),
            gymnasium.spaces.Discrete(2),
            device,
            autoreset_mode,
        )
        self.memory_length = memory_length
        self.num_bits = num_bits
        B, dev = num_envs, self.device
        # bsuite computes 1 - t / L in float64 and stores it as float32: tabulate it the same way.
        self._time_feature = torch.tensor(
            [1.0 - t / memory_length for t in range(memory_length + 1)],
            dtype=torch.float32,
            device=dev,
        )
        self.timestep = torch.zeros(B, dtype=torch.long, device=dev)  # bsuite's self._timestep
        self.context = torch.zeros(B, num_bits, dtype=torch.long, device=dev)  # bits in {0, 1}
        self.query = torch.zeros(B, dtype=torch.long, device=dev)  # index of the bit to recall
        self._zeros = torch.zeros(B, dtype=torch.long, device=dev)
        self._no_truncation = torch.zeros(B, dtype=torch.bool, device=dev)
        self._uniform_bits = torch.empty(B, num_bits, dtype=torch.float32, device=dev)
        self._reward_if_right = torch.tensor(1.0, dtype=torch.float32, device=dev)
        self._reward_if_wrong = torch.tensor(-1.0, dtype=torch.float32, device=dev)

    def _sample_episode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw a new episode's content for every sub-environment: context ``(B, n)``, query ``(B,)``."""
        context = self._uniform_bits.uniform_(generator=self.generator) < 0.5
        if self.num_bits == 1:
            query = self._zeros  # randint(1) is always 0
        else:
            query = torch.randint(
                self.num_bits, (self.num_envs,), generator=self.generator, device=self.device
            )
        return context, query

    def _restart(self, mask):
        context, query = self._sample_episode()
        torch.where(mask[:, None], context, self.context, out=self.context)
        if self.num_bits > 1:
            torch.where(mask, query, self.query, out=self.query)
        self.timestep.masked_fill_(mask, 0)

    def _transition(self, actions):
        decisive = self.timestep == self.memory_length
        if self.num_bits == 1:
            target = self.context[:, 0]
        else:
            target = self.context.gather(1, self.query[:, None]).squeeze(1)
        reward = torch.where(actions == target, self._reward_if_right, self._reward_if_wrong)
        reward.masked_fill_(~decisive, 0.0)  # only the decision is rewarded
        self.timestep.add_(1)
        return reward, decisive, self._no_truncation

    def _observe(self):
        # bsuite builds a step's observation before it advances its clock: after the k-th step it
        # shows timestep k - 1, and after reset timestep 0, so t = 0 is shown twice.
        shown = (self.timestep - 1).clamp_(0, self.memory_length)
        observation = torch.empty(
            self.num_envs, self.num_bits + 2, dtype=torch.float32, device=self.device
        )
        torch.index_select(self._time_feature, 0, shown, out=observation[:, 0])
        if self.num_bits == 1:
            observation[:, 1] = 0.0  # the query, randint(1), is always 0
        else:
            observation[:, 1] = self.query * (shown == self.memory_length - 1)
        observation[:, 2:] = (2 * self.context - 1) * (shown == 0)[:, None]
        return observation


class _CardGame(TorchBatchedEnv):
    """Shared state of popgym's card games: a deck of ``52 * num_decks`` cards dealt one per step."""

    def __init__(
        self,
        num_envs,
        num_decks,
        single_observation_space,
        single_action_space,
        device,
        autoreset_mode,
    ):
        super().__init__(
            num_envs, single_observation_space, single_action_space, device, autoreset_mode
        )
        self.num_decks = num_decks
        self.num_cards = 52 * num_decks
        # Cards dealt in the current episode (popgym's hand size, counting the card dealt by reset).
        self.cards_dealt = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        # Category of the card dealt last (the value card in CountRecall): what is shown.
        self.last_card = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._no_truncation = torch.zeros(num_envs, dtype=torch.bool, device=self.device)

    def _set_reward_scale(self, reward_scale: float) -> None:
        """Rewards are +-reward_scale, kept as float32 scalars whatever torch's default dtype."""
        self.reward_scale = reward_scale
        self._reward_if_right = torch.tensor(reward_scale, dtype=torch.float32, device=self.device)
        self._reward_if_wrong = torch.tensor(-reward_scale, dtype=torch.float32, device=self.device)

    @property
    def max_episode_length(self) -> int:
        """Steps per episode, as popgym's ``max_episode_length``."""
        return self.num_cards - 1

    def _suit_deck(self) -> ShuffledDeck:
        return ShuffledDeck(self.num_envs, 4, 13 * self.num_decks, self.generator)

    def _observe(self):
        return self.last_card.clone()  # (B,) suit of the card dealt last


REPEAT_PREVIOUS_PRESETS = {
    "Easy": {"num_decks": 1, "k": 4},
    "Medium": {"num_decks": 2, "k": 32},
    "Hard": {"num_decks": 3, "k": 64},
}


class RepeatPrevious(_CardGame):
    """popgym 1.0.7's RepeatPrevious for a batch of environments.

    Each step deals one card from a shuffled deck of ``52 * num_decks`` cards and shows its suit
    (``Discrete(4)``: observation ``(B,)`` int64). Reset deals the first card; an episode has
    ``52 * num_decks - 1`` steps and terminates when the last card is dealt. From the step where
    ``k`` cards have been dealt on, the action must be the suit of the card shown ``k - 1``
    observations before the current one (with ``k = 1``: the current observation), i.e. the lag is
    ``k - 1``; reward ``+-1 / (52 * num_decks - k)`` for a correct / wrong suit, 0 before. Returns
    lie in ``[-1, 1]``; random play scores -0.5 in expectation.

    Presets (``REPEAT_PREVIOUS_PRESETS``, ids ``dni_rnn/RepeatPrevious{Easy,Medium,Hard}-v0``):
    Easy ``num_decks=1, k=4``; Medium ``num_decks=2, k=32``; Hard ``num_decks=3, k=64``.

    Args:
        num_envs: ``B``. Default: 1.
        num_decks: Default: 1.
        k: Default: 4.
        device: Default: ``"cpu"``.
        autoreset_mode: Default: ``AutoresetMode.NEXT_STEP``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        num_decks: int = 1,
        k: int = 4,
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if not 1 <= k < 52 * num_decks:
            raise ValueError(
                f"RepeatPrevious: need 1 <= k < 52 * num_decks, got k={k}, num_decks={num_decks}"
            )
        suits = gymnasium.spaces.Discrete(4)
        super().__init__(num_envs, num_decks, suits, suits, device, autoreset_mode)
        self.k = k
        self._set_reward_scale(1.0 / (self.num_cards - k))
        self.deck = self._suit_deck()
        # Suit of the j-th card of the episode in column j; one spare column keeps the write of a
        # finished sub-environment's discarded transition in range.
        self.dealt_suits = torch.zeros(
            num_envs, self.num_cards + 1, dtype=torch.long, device=self.device
        )

    def _restart(self, mask):
        self.deck.refill(mask)
        first_suit = self.deck.deal(mask)
        torch.where(mask, first_suit, self.last_card, out=self.last_card)
        self.dealt_suits[:, 0] = torch.where(mask, first_suit, self.dealt_suits[:, 0])
        self.cards_dealt.masked_fill_(mask, 1)

    def _transition(self, actions):
        target = self.dealt_suits.gather(
            1, (self.cards_dealt - self.k).clamp(min=0)[:, None]
        ).squeeze(1)
        reward = torch.where(actions == target, self._reward_if_right, self._reward_if_wrong)
        reward.masked_fill_(self.cards_dealt < self.k, 0.0)  # rewarded once k cards are dealt
        terminated = self.cards_dealt == self.num_cards - 1  # one card left before this deal
        suit = self.deck.deal(self.cards_dealt < self.num_cards)
        self.dealt_suits.scatter_(
            1, self.cards_dealt.clamp(max=self.num_cards)[:, None], suit[:, None]
        )
        self.last_card.copy_(suit)
        self.cards_dealt.add_(1)
        return reward, terminated, self._no_truncation


REPEAT_FIRST_PRESETS = {
    "Easy": {"num_decks": 1},
    "Medium": {"num_decks": 8},
    "Hard": {"num_decks": 16},
}


class RepeatFirst(_CardGame):
    """popgym 1.0.7's RepeatFirst for a batch of environments.

    Each step deals one card from a shuffled deck of ``52 * num_decks`` cards and shows its suit
    (``Discrete(4)``: observation ``(B,)`` int64); reset deals the first card. On every step the
    action must be the suit of that first card: reward ``+-1 / (52 * num_decks - 1)``. An episode has
    ``52 * num_decks - 1`` steps. (popgym's docstring mentions an indicator of the first card; its
    observation has none, and neither does this one.)

    Presets (``REPEAT_FIRST_PRESETS``): Easy ``num_decks=1``; Medium 8; Hard 16.

    Args:
        num_envs: ``B``. Default: 1.
        num_decks: Default: 1.
        device: Default: ``"cpu"``.
        autoreset_mode: Default: ``AutoresetMode.NEXT_STEP``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        num_decks: int = 1,
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        suits = gymnasium.spaces.Discrete(4)
        super().__init__(num_envs, num_decks, suits, suits, device, autoreset_mode)
        self._set_reward_scale(1.0 / (self.num_cards - 1))
        self.deck = self._suit_deck()
        self.first_suit = torch.zeros(num_envs, dtype=torch.long, device=self.device)

    def _restart(self, mask):
        self.deck.refill(mask)
        first_suit = self.deck.deal(mask)
        torch.where(mask, first_suit, self.first_suit, out=self.first_suit)
        torch.where(mask, first_suit, self.last_card, out=self.last_card)
        self.cards_dealt.masked_fill_(mask, 1)

    def _transition(self, actions):
        reward = torch.where(
            actions == self.first_suit, self._reward_if_right, self._reward_if_wrong
        )
        terminated = self.cards_dealt == self.num_cards - 1
        self.last_card.copy_(self.deck.deal(self.cards_dealt < self.num_cards))
        self.cards_dealt.add_(1)
        return reward, terminated, self._no_truncation


COUNT_RECALL_PRESETS = {
    "Easy": {"num_decks": 1, "deck_type": "colors"},
    "Medium": {"num_decks": 2, "deck_type": "suits"},
    "Hard": {"num_decks": 4, "deck_type": "ranks"},
}

_CATEGORIES = {"colors": 2, "suits": 4, "ranks": 13}


class CountRecall(_CardGame):
    """popgym 1.0.7's CountRecall for a batch of environments.

    Two shuffled decks of ``52 * num_decks`` cards, a value deck and a query deck, are dealt one card
    each per step (reset deals the first pair). Cards are seen through ``deck_type`` ("colors": 2
    categories, "suits": 4, "ranks": 13). Observation ``(B, 2)`` int64 ``[value, query]``
    (``MultiDiscrete([C, C])``). The action of a step must be how many value cards of the category
    queried by the previous observation had been dealt up to and including that observation:
    ``Discrete(52 * num_decks / C + 1)``, reward ``+-1 / (52 * num_decks - 1)``. An episode has
    ``52 * num_decks - 1`` steps and terminates when the value deck is empty.

    Presets (``COUNT_RECALL_PRESETS``): Easy 1 deck, colors; Medium 2 decks, suits; Hard 4 decks,
    ranks. (popgym's ``error_clamp`` argument has no effect in 1.0.7 and is not offered.)

    Args:
        num_envs: ``B``. Default: 1.
        num_decks: Default: 1.
        deck_type: "colors", "suits" or "ranks". Default: "colors".
        device: Default: ``"cpu"``.
        autoreset_mode: Default: ``AutoresetMode.NEXT_STEP``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        num_decks: int = 1,
        deck_type: str = "colors",
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if deck_type not in _CATEGORIES:
            raise ValueError(
                f"CountRecall: deck_type must be one of {list(_CATEGORIES)}, got {deck_type!r}"
            )
        num_categories = _CATEGORIES[deck_type]
        cards_per_category = 52 * num_decks // num_categories
        super().__init__(
            num_envs,
            num_decks,
            gymnasium.spaces.MultiDiscrete([num_categories, num_categories]),
            gymnasium.spaces.Discrete(cards_per_category + 1),
            device,
            autoreset_mode,
        )
        self.deck_type = deck_type
        self.num_categories = num_categories
        self._set_reward_scale(1.0 / (self.num_cards - 1))
        self.value_deck = ShuffledDeck(num_envs, num_categories, cards_per_category, self.generator)
        self.query_deck = ShuffledDeck(num_envs, num_categories, cards_per_category, self.generator)
        self.counts = torch.zeros(num_envs, num_categories, dtype=torch.long, device=self.device)
        self.query = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # shown query

    def _restart(self, mask):
        self.value_deck.refill(mask)
        self.query_deck.refill(mask)
        value = self.value_deck.deal(mask)
        query = self.query_deck.deal(mask)
        self.counts.masked_fill_(mask[:, None], 0)
        self.counts.scatter_add_(1, value[:, None], mask[:, None].long())
        torch.where(mask, query, self.query, out=self.query)
        torch.where(mask, value, self.last_card, out=self.last_card)
        self.cards_dealt.masked_fill_(mask, 1)

    def _transition(self, actions):
        previous_count = self.counts.gather(1, self.query[:, None]).squeeze(1)
        reward = torch.where(
            actions == previous_count, self._reward_if_right, self._reward_if_wrong
        )
        dealing = self.cards_dealt < self.num_cards
        value = self.value_deck.deal(dealing)
        query = self.query_deck.deal(dealing)
        self.counts.scatter_add_(1, value[:, None], dealing[:, None].long())
        self.query.copy_(query)
        self.last_card.copy_(value)
        self.cards_dealt.add_(1)
        terminated = self.cards_dealt == self.num_cards  # the value deck is empty
        return reward, terminated, self._no_truncation

    def _observe(self):
        return torch.stack([self.last_card, self.query], dim=1)  # (B, 2) [value, query]


class PositionOnlyCartPole(TorchBatchedEnv):
    """Classic CartPole (gymnasium's ``CartPoleEnv`` dynamics, Euler integration) observing only
    ``[x, theta]``: the velocities must be inferred from two consecutive observations, a
    short-memory control task.

    State ``(B, 4)`` = ``[x, x_dot, theta, theta_dot]``, started uniformly in ``(-0.05, 0.05)``. Reward
    1 on every step, the terminating one included (CartPole-v1). Terminated when ``|x| > 2.4`` or
    ``|theta| > 12 degrees``; truncated when the episode reaches ``max_episode_steps`` steps (as
    gymnasium's ``TimeLimit``, independently of termination).

    Args:
        num_envs: ``B``. Default: 1.
        max_episode_steps: Default: 500.
        device: Default: ``"cpu"``.
        dtype: dtype of the physical state (gymnasium integrates in float64). Default: float32.
        autoreset_mode: Default: ``AutoresetMode.NEXT_STEP``.

    Spaces: observation ``Box((2,), float32)`` ``[x, theta]``, action ``Discrete(2)`` (0 pushes left).
    """

    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5  # half the pole's length
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02  # seconds per step
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int = 500,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        high = np.array([self.x_threshold * 2, self.theta_threshold_radians * 2], dtype=np.float32)
        super().__init__(
            num_envs,
            gymnasium.spaces.Box(-high, high, dtype=np.float32),
            gymnasium.spaces.Discrete(2),
            device,
            autoreset_mode,
        )
        self.max_episode_steps = max_episode_steps
        self.state = torch.zeros(num_envs, 4, dtype=dtype, device=self.device)  # (B, 4)
        self.elapsed_steps = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._start_state = torch.empty(num_envs, 4, dtype=dtype, device=self.device)

    def _observe(self):
        return self.state[:, 0::2].to(torch.float32, copy=True)  # (B, 2) [x, theta]

    def _sample_start_state(self) -> torch.Tensor:
        """A start state ``(B, 4)`` for every sub-environment, uniform in ``(-0.05, 0.05)``."""
        return self._start_state.uniform_(-0.05, 0.05, generator=self.generator)

    def _restart(self, mask):
        self.state = torch.where(mask[:, None], self._sample_start_state(), self.state)
        self.elapsed_steps.masked_fill_(mask, 0)

    def _transition(self, actions):
        x, x_dot, theta, theta_dot = self.state.unbind(1)
        force = (actions.to(self.state.dtype) * 2.0 - 1.0) * self.force_mag  # action 1 pushes right
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + self.polemass_length * theta_dot.square() * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta.square() / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        # Euler: positions move with the old velocities
        self.state = torch.stack(
            [
                x + self.tau * x_dot,
                x_dot + self.tau * xacc,
                theta + self.tau * theta_dot,
                theta_dot + self.tau * thetaacc,
            ],
            dim=1,
        )
        x, theta = self.state[:, 0], self.state[:, 2]
        terminated = (x.abs() > self.x_threshold) | (theta.abs() > self.theta_threshold_radians)
        self.elapsed_steps.add_(1)
        truncated = self.elapsed_steps >= self.max_episode_steps
        reward = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)
        return reward, terminated, truncated


def register_envs() -> None:
    """Register the ``dni_rnn/...`` ids with gymnasium (idempotent: known ids are skipped)."""
    entries: dict[str, tuple[str, dict[str, Any]]] = {
        "dni_rnn/MemoryChain-v0": ("MemoryChain", {}),
        "dni_rnn/PositionOnlyCartPole-v0": ("PositionOnlyCartPole", {}),
        "dni_rnn/RepeatPrevious-v0": ("RepeatPrevious", {}),
        "dni_rnn/RepeatFirst-v0": ("RepeatFirst", {}),
        "dni_rnn/CountRecall-v0": ("CountRecall", {}),
    }
    for name, presets in [
        ("RepeatPrevious", REPEAT_PREVIOUS_PRESETS),
        ("RepeatFirst", REPEAT_FIRST_PRESETS),
        ("CountRecall", COUNT_RECALL_PRESETS),
    ]:
        for difficulty, kwargs in presets.items():
            entries[f"dni_rnn/{name}{difficulty}-v0"] = (name, kwargs)
    for env_id, (class_name, kwargs) in entries.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id, vector_entry_point=f"{__name__}:{class_name}", kwargs=dict(kwargs)
            )


register_envs()
