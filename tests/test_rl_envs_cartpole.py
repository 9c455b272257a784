"""PositionOnlyCartPole against gymnasium's CartPole-v1 (dni_rnn_tasks/rl/envs/cartpole.py)."""

import gymnasium
import numpy as np
import torch

from dni_rnn_tasks.rl.envs import PositionOnlyCartPole


class ScriptedCartPole(PositionOnlyCartPole):
    def _sample_start_state(self):
        return self.next_start_state.clone()


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
        np.testing.assert_allclose(env.state.numpy(), np.stack([c.state for c in cartpoles]), atol=1e-12)
        assert reward.tolist() == ref_reward.tolist()
        assert terminated.tolist() == ref_terminated.tolist()
        assert truncated.tolist() == ref_truncated.tolist()
        terminations += int(ref_terminated.sum())
        truncations += int(ref_truncated.sum())
    assert terminations > 0 and truncations > 0


def test_position_only_cartpole_float32_and_time_limit(make_env):
    env = make_env("dni_rnn/PositionOnlyCartPole-v0", num_envs=4)
    assert env.max_episode_steps == 500
    obs, _ = env.reset(seed=0)
    assert obs.dtype == torch.float32 and obs.abs().max() < 0.05
    short = PositionOnlyCartPole(num_envs=2, max_episode_steps=3)
    short.reset(seed=0)
    truncated_at = [short.step(torch.tensor([0, 1]))[3].tolist() for _ in range(4)]
    assert truncated_at == [[False, False], [False, False], [True, True], [False, False]]
