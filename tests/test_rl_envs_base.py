"""The VectorEnv contract every torch environment keeps (dni_rnn_tasks/rl/envs/base.py): spaces, seeding,
autoreset, partial resets, no host syncs, state_dict."""

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from dni_rnn_tasks.rl.envs import ENV_IDS, MemoryChain, PositionOnlyCartPole, RepeatFirst, RepeatPrevious

ALL_IDS = sorted(ENV_IDS)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_spaces_shapes_dtypes(env_id, make_env, random_actions):
    env = make_env(env_id, num_envs=5)
    assert env.num_envs == 5
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert env.observation_space == gymnasium.vector.utils.batch_space(env.single_observation_space, 5)
    assert env.action_space == gymnasium.vector.utils.batch_space(env.single_action_space, 5)
    obs, infos = env.reset(seed=0)
    assert infos == {}
    assert tuple(obs.shape) == env.observation_space.shape
    assert obs.dtype == torch.from_numpy(np.zeros(0, env.observation_space.dtype)).dtype
    assert env.observation_space.contains(obs.numpy())
    obs, reward, terminated, truncated, infos = env.step(random_actions(env, np.random.default_rng(0)))
    assert env.observation_space.contains(obs.numpy())
    assert reward.shape == (5,) and reward.dtype == torch.float32
    assert terminated.shape == truncated.shape == (5,)
    assert terminated.dtype == truncated.dtype == torch.bool
    assert all(t.device == torch.device("cpu") for t in (obs, reward, terminated, truncated))


def test_make_vec_kwargs_reach_the_env(make_env):
    env = make_env("dni_rnn/MemoryChain-v0", memory_length=7, num_bits=3)
    assert (env.memory_length, env.num_bits) == (7, 3)
    assert env.single_observation_space.shape == (5,)
    medium = make_env("dni_rnn/RepeatPreviousMedium-v0")
    assert (medium.num_decks, medium.k, medium.max_episode_length) == (2, 32, 103)
    hard = make_env("dni_rnn/CountRecallHard-v0")
    assert (hard.num_decks, hard.deck_type, hard.single_action_space.n) == (4, "ranks", 17)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeding_is_reproducible(env_id, make_env, random_actions):
    def rollout(seed):
        env = make_env(env_id, num_envs=4)
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
def test_partial_reset_with_reset_mask(env_id, make_env, random_actions):
    env = make_env(env_id, num_envs=4)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, *_ = env.step(random_actions(env, rng))
    mask = torch.tensor([True, False, True, False])
    reset_obs, _ = env.reset(options={"reset_mask": mask})
    assert torch.equal(reset_obs[~mask], obs[~mask])  # kept sub-environments keep their observation
    clock = env.elapsed_steps if isinstance(env, PositionOnlyCartPole) else getattr(env, "timestep", None)
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
def test_state_survives_switching_inference_mode(env_id, make_env, random_actions):
    env = make_env(env_id, num_envs=4)
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        env.reset(seed=0)
        for _ in range(3):
            env.step(random_actions(env, rng))
    for _ in range(3):  # state allocated outside inference mode stays usable outside it
        env.step(random_actions(env, rng))


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
    env = gymnasium.make_vec(env_id, num_envs=16, vectorization_mode="vector_entry_point", device="cuda")
    env.reset(seed=0)
    actions = torch.zeros(16, dtype=torch.long, device="cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(5):
            env.step(actions)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_state_dict_round_trip_continues_identically(env_id, make_env, random_actions):
    env = make_env(env_id)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(60):  # past an autoreset of every env's default episode length
        env.step(random_actions(env, rng))
    state = env.state_dict()
    actions = [random_actions(env, rng) for _ in range(80)]
    want = [env.step(a)[:4] for a in actions]
    restored = make_env(env_id)  # built with the same arguments, never reset
    restored.load_state_dict(state)
    for step, (a, expected) in enumerate(zip(actions, want)):
        for name, x, y in zip(("obs", "reward", "terminated", "truncated"), restored.step(a)[:4], expected):
            assert torch.equal(x, y), (step, name)


def test_load_state_dict_names_a_mismatched_tensor():
    state = MemoryChain(num_envs=3).state_dict()
    with pytest.raises(ValueError, match=r"MemoryChain.load_state_dict: expected timestep of shape \(4,\)"):
        MemoryChain(num_envs=4).load_state_dict(state)


def test_lag_and_success_are_properties_of_the_env():
    chain = MemoryChain(memory_length=5)
    assert chain.lag == 5 and chain.success_reward == 0.0
    assert RepeatPrevious(k=4).lag == 3 and RepeatPrevious(k=4).success_reward is None
    assert RepeatFirst().lag is None and PositionOnlyCartPole().lag is None
