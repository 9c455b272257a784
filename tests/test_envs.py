"""Tests of the torch-native batched environments (tasks/envs.py) and the gym adapters.

Reference equivalence: each environment is stepped side by side with its reference package on the
same actions, its random content (contexts, shuffled decks, start states) forced to the reference's
through test-only subclasses that replace the env's samplers. Then observations, rewards,
terminations and truncations must agree step for step, across autoresets.
"""

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from tasks import envs
from tasks.envs import MemoryChain, PositionOnlyCartPole, RepeatPrevious
from tasks.gym_adapter import TorchRecordEpisodeStatistics, TorchVectorEnv, flatten_observation

ALL_IDS = sorted(env_id for env_id in gymnasium.registry if env_id.startswith("dni_rnn/"))


def make(env_id, num_envs=3, **kwargs):
    return gymnasium.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device="cpu", **kwargs
    )


def random_actions(env, rng):
    n = env.single_action_space.n
    return torch.as_tensor(rng.integers(0, n, size=env.num_envs))


# ---------------------------------------------------------------------------------------------
# Test-only samplers that replay the reference's random content


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


class ScriptedMemoryChain(MemoryChain):
    """MemoryChain whose episodes take the context and query set in ``next_context``/``next_query``."""

    def _sample_episode(self):
        return self.next_context.clone(), self.next_query.clone()


class ScriptedCartPole(PositionOnlyCartPole):
    def _sample_start_state(self):
        return self.next_start_state.clone()


# ---------------------------------------------------------------------------------------------
# Contract


def test_registered_ids():
    expected = {"MemoryChain", "PositionOnlyCartPole"} | {
        f"{name}{level}"
        for name in ("RepeatPrevious", "RepeatFirst", "CountRecall")
        for level in ("", "Easy", "Medium", "Hard")
    }
    assert set(ALL_IDS) == {f"dni_rnn/{name}-v0" for name in expected}
    envs.register_envs()  # idempotent: registering twice neither fails nor duplicates
    assert sorted(i for i in gymnasium.registry if i.startswith("dni_rnn/")) == ALL_IDS


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_spaces_shapes_dtypes(env_id):
    env = make(env_id, num_envs=5)
    assert env.num_envs == 5
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert env.observation_space == gymnasium.vector.utils.batch_space(
        env.single_observation_space, 5
    )
    assert env.action_space == gymnasium.vector.utils.batch_space(env.single_action_space, 5)
    obs, infos = env.reset(seed=0)
    assert infos == {}
    assert tuple(obs.shape) == env.observation_space.shape
    assert obs.dtype == torch.from_numpy(np.zeros(0, env.observation_space.dtype)).dtype
    assert env.observation_space.contains(obs.numpy())
    obs, reward, terminated, truncated, infos = env.step(
        random_actions(env, np.random.default_rng(0))
    )
    assert env.observation_space.contains(obs.numpy())
    assert reward.shape == (5,) and reward.dtype == torch.float32
    assert terminated.shape == truncated.shape == (5,)
    assert terminated.dtype == truncated.dtype == torch.bool
    assert all(t.device == torch.device("cpu") for t in (obs, reward, terminated, truncated))


def test_make_vec_kwargs_reach_the_env():
    env = make("dni_rnn/MemoryChain-v0", memory_length=7, num_bits=3)
    assert (env.memory_length, env.num_bits) == (7, 3)
    assert env.single_observation_space.shape == (5,)
    medium = make("dni_rnn/RepeatPreviousMedium-v0")
    assert (medium.num_decks, medium.k, medium.max_episode_length) == (2, 32, 103)
    hard = make("dni_rnn/CountRecallHard-v0")
    assert (hard.num_decks, hard.deck_type, hard.single_action_space.n) == (4, "ranks", 17)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeding_is_reproducible(env_id):
    def rollout(seed):
        env = make(env_id, num_envs=4)
        rng = np.random.default_rng(1)
        out = [env.reset(seed=seed)[0]]
        for _ in range(60):
            out += env.step(random_actions(env, rng))[:3]
        return out

    first, again, other = rollout(3), rollout(3), rollout(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_next_step_autoreset_ignores_the_action():
    env = MemoryChain(num_envs=2, memory_length=2)
    env.reset(seed=0)
    actions = torch.tensor([0, 1])
    for _ in range(2):
        obs, reward, terminated, _, _ = env.step(actions)
        assert not terminated.any() and reward.eq(0).all()
    expected = torch.where(actions == env.context[:, 0], 1.0, -1.0).float()
    obs, reward, terminated, truncated, _ = env.step(actions)
    assert terminated.all() and not truncated.any()
    assert torch.equal(reward, expected)
    for pseudo_actions in (torch.tensor([0, 0]), torch.tensor([1, 1])):  # the action is ignored
        twin = MemoryChain(num_envs=2, memory_length=2)
        twin.reset(seed=0)
        for _ in range(3):
            twin.step(actions)
        obs, reward, terminated, truncated, _ = twin.step(pseudo_actions)  # the reset pseudo-step
        assert not terminated.any() and not truncated.any() and reward.eq(0).all()
        assert torch.equal(obs[:, 0], torch.ones(2))  # time feature of a first observation
        assert torch.equal(obs[:, 2:], 2.0 * twin.context - 1)  # the new episode's context
        assert twin.timestep.eq(0).all()
        obs, reward, *_ = twin.step(pseudo_actions)
        assert torch.equal(obs[:, 2:], 2.0 * twin.context - 1)  # bsuite shows t = 0 twice


def test_same_step_autoreset_reports_final_observation():
    env = MemoryChain(num_envs=3, memory_length=2, autoreset_mode="SameStep")
    env.reset(seed=0)
    lengths = []
    for step in range(1, 10):
        obs, _, terminated, _, infos = env.step(torch.zeros(3, dtype=torch.long))
        assert torch.equal(infos["_final_obs"], terminated)
        if terminated.all():
            lengths.append(step)
            assert infos["final_obs"][:, 0].eq(0).all()  # last observation: time runs out
            assert obs[:, 0].eq(1).all()  # the next episode's first observation, at once
    assert lengths == [3, 6, 9]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_partial_reset_with_reset_mask(env_id):
    env = make(env_id, num_envs=4)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, *_ = env.step(random_actions(env, rng))
    mask = torch.tensor([True, False, True, False])
    reset_obs, _ = env.reset(options={"reset_mask": mask})
    assert torch.equal(reset_obs[~mask], obs[~mask])  # kept sub-environments keep their observation
    clock = (
        env.elapsed_steps
        if isinstance(env, PositionOnlyCartPole)
        else getattr(env, "timestep", None)
    )
    if clock is None:
        clock = env.cards_dealt - 1  # card games: cards dealt after the first
    assert clock[mask].eq(0).all() and clock[~mask].eq(3).all()
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": torch.ones(3, dtype=torch.bool)})


def test_reset_mask_clears_pending_autoreset():
    env = MemoryChain(num_envs=2, memory_length=1)
    env.reset(seed=0)
    env.step(torch.zeros(2, dtype=torch.long))
    _, _, terminated, _, _ = env.step(torch.zeros(2, dtype=torch.long))
    assert terminated.all()
    env.reset(options={"reset_mask": torch.tensor([True, False])})
    _, reward, *_ = env.step(torch.zeros(2, dtype=torch.long))
    # env 0 was reset by hand and takes a real step (timestep 0 is shown again, as in bsuite);
    # env 1 performs its autoreset pseudo-step. Both show the first observation with reward 0.
    assert env.timestep.tolist() == [1, 0]
    assert reward.eq(0).all()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_state_survives_switching_inference_mode(env_id):
    env = make(env_id, num_envs=4)
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        env.reset(seed=0)
        for _ in range(3):
            env.step(random_actions(env, rng))
    for _ in range(3):  # state allocated outside inference mode stays usable outside it
        env.step(random_actions(env, rng))


def test_module_prefixed_id_imports_the_module():
    env = gymnasium.make_vec(
        "tasks.envs:dni_rnn/MemoryChain-v0", num_envs=2, vectorization_mode="vector_entry_point"
    )
    assert isinstance(env, MemoryChain)


def test_disabled_autoreset_stays_in_range_after_the_end():
    env = MemoryChain(num_envs=2, memory_length=2, autoreset_mode="Disabled")
    env.reset(seed=0)
    for _ in range(6):  # undefined results past the end, but no index error
        obs, reward, *_ = env.step(torch.zeros(2, dtype=torch.long))
    assert obs[:, 0].eq(0).all() and reward.eq(0).all()
    obs, _ = env.reset(options={"reset_mask": torch.tensor([True, True])})
    assert obs[:, 0].eq(1).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to detect host syncs")
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_step_never_syncs_with_the_host(env_id):
    env = gymnasium.make_vec(
        env_id, num_envs=16, vectorization_mode="vector_entry_point", device="cuda"
    )
    env.reset(seed=0)
    actions = torch.zeros(16, dtype=torch.long, device="cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(5):
            env.step(actions)
    finally:
        torch.cuda.set_sync_debug_mode("default")


# ---------------------------------------------------------------------------------------------
# MemoryChain against bsuite


@pytest.mark.parametrize("memory_length,num_bits", [(1, 1), (4, 1), (5, 3)])
def test_memory_chain_matches_bsuite(memory_length, num_bits):
    memory_chain = pytest.importorskip("bsuite.environments.memory_chain")
    B = 4
    references = [memory_chain.MemoryChain(memory_length, num_bits, seed=seed) for seed in range(B)]
    env = ScriptedMemoryChain(num_envs=B, memory_length=memory_length, num_bits=num_bits)

    def script_from_references():
        env.next_context = torch.tensor(
            np.stack([r._context for r in references]), dtype=torch.long
        )
        env.next_query = torch.tensor([r._query for r in references], dtype=torch.long)

    timesteps = [r.reset() for r in references]
    script_from_references()
    obs, _ = env.reset(seed=0)
    assert torch.equal(obs, torch.tensor(np.stack([t.observation[0] for t in timesteps])))
    rng = np.random.default_rng(0)
    for step in range(4 * (memory_length + 2)):
        if step == 1:  # a partial reset puts sub-environment 2 out of phase with the others
            timesteps[2] = references[2].reset()
            script_from_references()
            obs, _ = env.reset(options={"reset_mask": torch.tensor([False, False, True, False])})
            assert torch.equal(obs[2], torch.tensor(timesteps[2].observation[0]))
        actions = rng.integers(0, 2, size=B)
        timesteps = [r.step(int(a)) for r, a in zip(references, actions)]
        script_from_references()
        obs, reward, terminated, truncated, _ = env.step(torch.as_tensor(actions))
        assert torch.equal(obs, torch.tensor(np.stack([t.observation[0] for t in timesteps])))
        assert reward.tolist() == [t.reward or 0.0 for t in timesteps]
        assert terminated.tolist() == [t.last() for t in timesteps]
        assert not truncated.any()


def test_memory_chain_samples_fair_bits_and_queries():
    env = MemoryChain(num_envs=4096, memory_length=3, num_bits=3)
    env.reset(seed=0)
    assert abs(env.context.float().mean().item() - 0.5) < 0.02
    assert torch.bincount(env.query, minlength=3).min().item() > 1200


# ---------------------------------------------------------------------------------------------
# popgym card games


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
def test_card_game_matches_popgym(name, level):
    pytest.importorskip("popgym")
    B = 3
    reference = gymnasium.make_vec(
        f"popgym-{name}{level}-v0", num_envs=B, vectorization_mode="sync"
    )
    games = [e.unwrapped for e in reference.envs]
    env = make(f"dni_rnn/{name}{level}-v0", num_envs=B)
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


@pytest.mark.parametrize(
    "env_id", ["dni_rnn/RepeatPreviousMedium-v0", "dni_rnn/CountRecallHard-v0"]
)
def test_deck_sampler_deals_each_card_once(env_id):
    env = make(env_id, num_envs=256)
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


# ---------------------------------------------------------------------------------------------
# Position-only CartPole against gymnasium's CartPoleEnv


def test_position_only_cartpole_matches_gymnasium_cartpole():
    from gymnasium.envs.classic_control import CartPoleEnv
    from gymnasium.wrappers import TimeLimit

    B, horizon = 6, 40
    reference = gymnasium.vector.SyncVectorEnv(
        [lambda: TimeLimit(CartPoleEnv(), max_episode_steps=horizon) for _ in range(B)]
    )
    cartpoles = [e.unwrapped for e in reference.envs]
    env = ScriptedCartPole(num_envs=B, max_episode_steps=horizon, dtype=torch.float64)

    def script_from_references():
        env.next_start_state = torch.tensor(np.stack([c.state for c in cartpoles]))

    reference.reset(seed=0)
    script_from_references()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    terminations = truncations = 0
    for step in range(200):
        if step == 5:  # a partial reset puts sub-environment 1 out of phase with the others
            mask = np.arange(B) == 1
            ref_obs, _ = reference.reset(options={"reset_mask": mask})
            script_from_references()
            obs, _ = env.reset(options={"reset_mask": torch.as_tensor(mask)})
            np.testing.assert_allclose(obs.numpy(), ref_obs[:, [0, 2]], rtol=0, atol=1e-6)
        # half the envs balance the pole (long episodes, truncations), half push at random
        theta, theta_dot = env.state[:, 2], env.state[:, 3]
        balancing = (theta + 0.3 * theta_dot > 0).long().numpy()
        actions = np.where(np.arange(B) % 2 == 0, balancing, rng.integers(0, 2, size=B))
        ref_obs, ref_reward, ref_terminated, ref_truncated, _ = reference.step(actions)
        script_from_references()
        obs, reward, terminated, truncated, _ = env.step(torch.as_tensor(actions))
        np.testing.assert_allclose(obs.numpy(), ref_obs[:, [0, 2]], rtol=0, atol=1e-6)
        np.testing.assert_allclose(
            env.state.numpy(), np.stack([c.state for c in cartpoles]), atol=1e-12
        )
        assert reward.tolist() == ref_reward.tolist()
        assert terminated.tolist() == ref_terminated.tolist()
        assert truncated.tolist() == ref_truncated.tolist()
        terminations += int(ref_terminated.sum())
        truncations += int(ref_truncated.sum())
    assert terminations > 0 and truncations > 0


def test_position_only_cartpole_float32_and_time_limit():
    env = make("dni_rnn/PositionOnlyCartPole-v0", num_envs=4)
    assert env.max_episode_steps == 500
    obs, _ = env.reset(seed=0)
    assert obs.dtype == torch.float32 and obs.abs().max() < 0.05
    short = PositionOnlyCartPole(num_envs=2, max_episode_steps=3)
    short.reset(seed=0)
    truncated_at = [short.step(torch.tensor([0, 1]))[3].tolist() for _ in range(4)]
    assert truncated_at == [[False, False], [False, False], [True, True], [False, False]]


# ---------------------------------------------------------------------------------------------
# Adapter and episode statistics


def test_adapter_runs_popgym_repeat_previous_easy():
    pytest.importorskip("popgym")
    env = TorchVectorEnv(
        "popgym:popgym-RepeatPreviousEasy-v0", num_envs=3, vectorization_mode="sync"
    )
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert env.single_observation_space == gymnasium.spaces.Discrete(4)
    obs, _ = env.reset(seed=0)
    assert isinstance(obs, torch.Tensor) and obs.shape == (3,) and obs.dtype == torch.int64
    ends = []
    for step in range(1, 55):
        obs, reward, terminated, _, _ = env.step(torch.zeros(3, dtype=torch.long))
        assert reward.dtype == torch.float32 and terminated.dtype == torch.bool
        if terminated.any():
            ends.append(step)
        if step == 52:  # the reset pseudo-step after the end
            assert reward.eq(0).all() and not terminated.any()
    assert ends == [51]
    options = {"reset_mask": torch.tensor([True, False, False])}
    env.reset(options=options)
    assert "reset_mask" in options  # the caller's options are not consumed


def test_adapter_async_mode_and_same_step_infos():
    env = TorchVectorEnv(
        "CartPole-v1",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    try:
        assert env.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
        obs, _ = env.reset(seed=0)
        assert obs.shape == (2, 4) and obs.dtype == torch.float32
        for _ in range(60):
            obs, _, terminated, truncated, infos = env.step(torch.ones(2, dtype=torch.long))
            if terminated.any():
                assert torch.equal(infos["_final_obs"], terminated | truncated)
                break
        else:
            pytest.fail("pushing right always should topple the pole within 60 steps")
    finally:
        env.close()


def test_episode_statistics_match_gymnasium_wrapper():
    pytest.importorskip("popgym")
    B = 3
    ours = TorchRecordEpisodeStatistics(
        TorchVectorEnv("popgym:popgym-RepeatPreviousEasy-v0", num_envs=B)
    )
    theirs = gymnasium.wrappers.vector.RecordEpisodeStatistics(
        gymnasium.make_vec("popgym-RepeatPreviousEasy-v0", num_envs=B, vectorization_mode="sync")
    )
    ours.reset(seed=0)
    theirs.reset(seed=0)
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(160):
        actions = rng.integers(0, 4, size=B)
        *_, our_infos = ours.step(torch.as_tensor(actions))
        *_, their_infos = theirs.step(actions)
        if "_episode" in their_infos:
            assert our_infos["_episode"].tolist() == their_infos["_episode"].tolist()
            np.testing.assert_allclose(
                our_infos["episode"]["r"].numpy(), their_infos["episode"]["r"], atol=1e-5
            )
            assert our_infos["episode"]["l"].tolist() == their_infos["episode"]["l"].tolist()
            episodes += int(their_infos["_episode"].sum())
        else:
            assert not our_infos["_episode"].any()
    assert episodes == 3 * B


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_episode_statistics_on_torch_env(mode):
    L = 3
    env = TorchRecordEpisodeStatistics(
        MemoryChain(num_envs=2, memory_length=L, autoreset_mode=mode)
    )
    env.reset(seed=0)
    ends = []
    for step in range(1, 15):
        _, reward, terminated, _, infos = env.step(torch.tensor([0, 1]))
        assert torch.equal(infos["_episode"], terminated)
        if terminated.any():
            ends.append(step)
            assert infos["episode"]["l"].tolist() == [L + 1, L + 1]
            assert torch.equal(infos["episode"]["r"], reward)  # only the decision is rewarded
        else:
            assert infos["episode"]["l"].eq(0).all()
    assert ends == ([4, 9, 14] if mode == "NextStep" else [4, 8, 12])
    # a partial reset restarts the statistics of the masked sub-environment only
    _, reward, _, _, infos = env.step(torch.tensor([0, 1]))
    handed_out = infos["_episode"].clone()
    env.reset(options={"reset_mask": torch.tensor([True, False])})
    assert env.episode_lengths.tolist() == [0, 0 if mode == "NextStep" else 3]  # step 15
    assert torch.equal(infos["_episode"], handed_out)  # returned tensors are not modified later


def test_flatten_observation_matches_gymnasium_flatten():
    spaces = gymnasium.spaces
    for space in [
        spaces.Discrete(4),
        spaces.Discrete(3, start=1),
        spaces.MultiDiscrete([2, 13]),
        spaces.Box(-1, 1, (2, 3)),
        spaces.Dict({"a": spaces.Discrete(2), "b": spaces.Box(0, 1, (2,))}),
    ]:
        space.seed(0)
        samples = [space.sample() for _ in range(5)]
        batch = gymnasium.vector.utils.concatenate(
            space, samples, gymnasium.vector.utils.create_empty_array(space, 5)
        )
        torch_batch = (
            {k: torch.as_tensor(v) for k, v in batch.items()}
            if isinstance(batch, dict)
            else torch.as_tensor(batch)
        )
        expected = np.stack([spaces.flatten(space, s) for s in samples]).astype(np.float32)
        np.testing.assert_allclose(flatten_observation(space, torch_batch).numpy(), expected)
        assert flatten_observation(space, torch_batch).shape == (5, spaces.flatdim(space))
