"""TorchVectorEnv: any gymnasium id seen through torch tensors (dni_rnn_tasks/rl/adapters.py)."""

import gymnasium
import pytest
import torch
from gymnasium.vector import AutoresetMode
from helpers import reference_package

from dni_rnn_tasks.rl.adapters import TorchVectorEnv


def test_adapter_runs_popgym_repeat_previous_easy():
    reference_package("popgym")
    env = TorchVectorEnv("popgym:popgym-RepeatPreviousEasy-v0", num_envs=3, vectorization_mode="sync")
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
