"""popgym's card games against popgym 1.0.7, step for step (dni_rnn_tasks/rl/envs/card_games.py, deck.py).

The shuffled decks are replaced by a test-only deck that deals the reference's cards in order."""

import gymnasium
import numpy as np
import pytest
import torch
from helpers import reference_package

from dni_rnn_tasks.rl.envs import RepeatPrevious


class ScriptedDeck:
    """Stands in for ``envs.ShuffledDeck``: deals categories in the order of ``order`` ``(B, N)``."""

    def __init__(self, num_envs, num_cards):
        self.order = torch.zeros(num_envs, num_cards, dtype=torch.long)
        self.position = torch.zeros(num_envs, dtype=torch.long)

    def refill(self, mask):
        self.position.masked_fill_(mask, 0)

    def deal(self, mask):
        card = self.order.gather(1, self.position.clamp(max=self.order.shape[1] - 1)[:, None])
        self.position.add_(mask.long())
        return card.squeeze(1)


def _popgym_oracle(name, game):
    """The rewarded action of a popgym env, from its hidden state (None where nothing is asked)."""
    if name == "RepeatPrevious":
        hand = game.deck["player"]
        return int(game.deck.suits_idx[hand[-game.k]]) if len(hand) >= game.k else None
    if name == "RepeatFirst":
        return int(game.card)
    return int(game.counts[game.query])  # CountRecall


def _popgym_deal_orders(name, game):
    """Categories of a popgym env's shuffled decks in dealing order (its Deck deals from the end)."""
    if name == "CountRecall":
        return [game.deck_idx_type[d.idx[::-1]] for d in (game.value_deck, game.query_deck)]
    return [game.deck.suits_idx[game.deck.idx[::-1]]]


@pytest.mark.filterwarnings("ignore:.*share an object")  # popgym's CountRecall reuses its info dict
@pytest.mark.parametrize(
    "name,level",
    [
        ("RepeatPrevious", "Easy"),
        ("RepeatPrevious", "Medium"),
        ("RepeatPrevious", "Hard"),
        ("RepeatFirst", "Easy"),
        ("RepeatFirst", "Medium"),
        ("CountRecall", "Easy"),
        ("CountRecall", "Medium"),
        ("CountRecall", "Hard"),
    ],
)
def test_card_game_matches_popgym(name, level, make_env):
    reference_package("popgym")
    B = 3
    reference = gymnasium.make_vec(f"popgym-{name}{level}-v0", num_envs=B, vectorization_mode="sync")
    games = [e.unwrapped for e in reference.envs]
    env = make_env(f"dni_rnn/{name}{level}-v0", num_envs=B)
    num_cards = env.num_cards
    decks = [ScriptedDeck(B, num_cards) for _ in _popgym_deal_orders(name, games[0])]
    if name == "CountRecall":
        env.value_deck, env.query_deck = decks
    else:
        env.deck = decks[0]

    def script_from_references():
        for i, game in enumerate(games):
            for deck, order in zip(decks, _popgym_deal_orders(name, game)):
                deck.order[i] = torch.as_tensor(order)

    ref_obs, _ = reference.reset(seed=0)
    script_from_references()
    obs, _ = env.reset(seed=0)
    assert torch.equal(obs, torch.as_tensor(ref_obs))
    rng = np.random.default_rng(0)
    episode_steps = num_cards - 1
    seen_positive = seen_negative = 0
    for step in range(2 * episode_steps + 5):  # two episodes and the autoreset between them
        if step == 7:  # a partial reset puts sub-environment 1 out of phase with the others
            ref_obs, _ = reference.reset(options={"reset_mask": np.array([False, True, False])})
            script_from_references()
            obs, _ = env.reset(options={"reset_mask": torch.tensor([False, True, False])})
            assert torch.equal(obs, torch.as_tensor(ref_obs))
        actions = rng.integers(0, env.single_action_space.n, size=B)
        for i, game in enumerate(games):  # answer right half of the time
            oracle = _popgym_oracle(name, game)
            if oracle is not None and rng.random() < 0.5:
                actions[i] = oracle
        ref_obs, ref_reward, ref_terminated, ref_truncated, _ = reference.step(actions)
        script_from_references()
        obs, reward, terminated, truncated, _ = env.step(torch.as_tensor(actions))
        assert torch.equal(obs, torch.as_tensor(ref_obs))
        np.testing.assert_allclose(reward.numpy(), ref_reward, rtol=1e-6, atol=0)
        assert terminated.tolist() == ref_terminated.tolist()
        assert truncated.tolist() == ref_truncated.tolist()
        seen_positive += int((ref_reward > 0).sum())
        seen_negative += int((ref_reward < 0).sum())
    assert seen_positive > 0 and seen_negative > 0


@pytest.mark.parametrize("env_id", ["dni_rnn/RepeatPreviousMedium-v0", "dni_rnn/CountRecallHard-v0"])
def test_deck_sampler_deals_each_card_once(env_id, make_env):
    env = make_env(env_id, num_envs=256)
    obs, _ = env.reset(seed=0)
    dealt = [obs]
    for _ in range(env.max_episode_length):
        obs, _, terminated, _, _ = env.step(torch.zeros(256, dtype=torch.long))
        dealt.append(obs)
    assert terminated.all()
    dealt = torch.stack(dealt)  # (N, B) or (N, B, 2): one full deck per sub-environment
    space = env.single_observation_space
    num_categories = int(space.nvec[0]) if hasattr(space, "nvec") else int(space.n)
    counts = torch.nn.functional.one_hot(dealt, num_categories).sum(0)
    assert counts.eq(env.num_cards // num_categories).all()
    # shuffled: the first card is uniform over categories
    first = torch.bincount(dealt[0].reshape(-1), minlength=num_categories).float()
    assert (first / first.sum() - 1 / num_categories).abs().max() < 0.08


def test_repeat_previous_lag_is_k_minus_one():
    # Answering with the observation shown k - 1 steps earlier scores the maximal return of 1.
    env = RepeatPrevious(num_envs=5, num_decks=2, k=32)
    obs, _ = env.reset(seed=0)
    shown, total = [obs], torch.zeros(5)
    for _ in range(env.max_episode_length):
        answer = shown[-env.k] if len(shown) >= env.k else torch.zeros(5, dtype=torch.long)
        obs, reward, terminated, _, _ = env.step(answer)
        shown.append(obs)
        total += reward
    assert terminated.all()
    torch.testing.assert_close(total, torch.ones(5))
