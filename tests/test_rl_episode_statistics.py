"""TorchRecordEpisodeStatistics against gymnasium's RecordEpisodeStatistics (dni_rnn_tasks/rl/episode_statistics.py)."""

import gymnasium
import numpy as np
import pytest
import torch
from helpers import reference_package

from dni_rnn_tasks.rl.adapters import TorchVectorEnv
from dni_rnn_tasks.rl.envs import MemoryChain
from dni_rnn_tasks.rl.episode_statistics import TorchRecordEpisodeStatistics


def test_episode_statistics_match_gymnasium_wrapper():
    reference_package("popgym")
    B = 3
    ours = TorchRecordEpisodeStatistics(TorchVectorEnv("popgym:popgym-RepeatPreviousEasy-v0", num_envs=B))
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
            np.testing.assert_allclose(our_infos["episode"]["r"].numpy(), their_infos["episode"]["r"], atol=1e-5)
            assert our_infos["episode"]["l"].tolist() == their_infos["episode"]["l"].tolist()
            episodes += int(their_infos["_episode"].sum())
        else:
            assert not our_infos["_episode"].any()
    assert episodes == 3 * B


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_episode_statistics_on_torch_env(mode):
    L = 3
    env = TorchRecordEpisodeStatistics(MemoryChain(num_envs=2, memory_length=L, autoreset_mode=mode))
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
