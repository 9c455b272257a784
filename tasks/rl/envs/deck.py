"""A batch of shuffled card decks dealt one card at a time, seen through card categories."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ShuffledDeck"]


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
        self.cards_left = torch.zeros(num_envs, num_categories, dtype=torch.long, device=generator.device)  # (B, C)
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

    def state_dict(self) -> dict[str, Any]:
        return {"cards_left": self.cards_left.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cards_left.copy_(state["cards_left"])
