"""popgym 1.0.7's card games (RepeatPrevious, RepeatFirst, CountRecall) as batched torch environments."""

from __future__ import annotations

from typing import Any

import gymnasium
import torch
from gymnasium.vector import AutoresetMode

from dni_rnn_tasks.rl.envs.base import TorchBatchedEnv
from dni_rnn_tasks.rl.envs.deck import ShuffledDeck

__all__ = [
    "COUNT_RECALL_PRESETS",
    "REPEAT_FIRST_PRESETS",
    "REPEAT_PREVIOUS_PRESETS",
    "CountRecall",
    "RepeatFirst",
    "RepeatPrevious",
]


class _CardGame(TorchBatchedEnv):
    """Shared state of popgym's card games: a deck of ``52 * num_decks`` cards dealt one per step."""

    state_tensors = ("cards_dealt", "last_card")
    decks: tuple[str, ...] = ("deck",)
    """Names of the ``ShuffledDeck`` attributes, saved by ``state_dict``."""

    def __init__(
        self,
        num_envs,
        num_decks,
        single_observation_space,
        single_action_space,
        device,
        autoreset_mode,
    ):
        super().__init__(num_envs, single_observation_space, single_action_space, device, autoreset_mode)
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

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "decks": {name: getattr(self, name).state_dict() for name in self.decks}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for name in self.decks:
            getattr(self, name).load_state_dict(state["decks"][name])

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

    state_tensors = (*_CardGame.state_tensors, "dealt_suits")

    def __init__(
        self,
        num_envs: int = 1,
        num_decks: int = 1,
        k: int = 4,
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if not 1 <= k < 52 * num_decks:
            raise ValueError(f"RepeatPrevious: need 1 <= k < 52 * num_decks, got k={k}, num_decks={num_decks}")
        suits = gymnasium.spaces.Discrete(4)
        super().__init__(num_envs, num_decks, suits, suits, device, autoreset_mode)
        self.k = k
        self._set_reward_scale(1.0 / (self.num_cards - k))
        self.deck = self._suit_deck()
        # Suit of the j-th card of the episode in column j; one spare column keeps the write of a
        # finished sub-environment's discarded transition in range.
        self.dealt_suits = torch.zeros(num_envs, self.num_cards + 1, dtype=torch.long, device=self.device)

    def _restart(self, mask):
        self.deck.refill(mask)
        first_suit = self.deck.deal(mask)
        torch.where(mask, first_suit, self.last_card, out=self.last_card)
        self.dealt_suits[:, 0] = torch.where(mask, first_suit, self.dealt_suits[:, 0])
        self.cards_dealt.masked_fill_(mask, 1)

    @property
    def lag(self) -> int:
        """``k - 1``: the suit to name was shown that many observations before the current one."""
        return self.k - 1

    def _transition(self, actions):
        target = self.dealt_suits.gather(1, (self.cards_dealt - self.k).clamp(min=0)[:, None]).squeeze(1)
        reward = torch.where(actions == target, self._reward_if_right, self._reward_if_wrong)
        reward.masked_fill_(self.cards_dealt < self.k, 0.0)  # rewarded once k cards are dealt
        terminated = self.cards_dealt == self.num_cards - 1  # one card left before this deal
        suit = self.deck.deal(self.cards_dealt < self.num_cards)
        self.dealt_suits.scatter_(1, self.cards_dealt.clamp(max=self.num_cards)[:, None], suit[:, None])
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

    state_tensors = (*_CardGame.state_tensors, "first_suit")

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
        reward = torch.where(actions == self.first_suit, self._reward_if_right, self._reward_if_wrong)
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

    state_tensors = (*_CardGame.state_tensors, "counts", "query")
    decks = ("value_deck", "query_deck")

    def __init__(
        self,
        num_envs: int = 1,
        num_decks: int = 1,
        deck_type: str = "colors",
        device: torch.device | str = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if deck_type not in _CATEGORIES:
            raise ValueError(f"CountRecall: deck_type must be one of {list(_CATEGORIES)}, got {deck_type!r}")
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
        reward = torch.where(actions == previous_count, self._reward_if_right, self._reward_if_wrong)
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
