"""MemoryChain against bsuite's memory_len, step for step (dni_rnn_tasks/rl/envs/memory_chain.py).

Its random content (contexts, queries) is forced to the reference's through a test-only subclass
that replaces the env's sampler."""

import numpy as np
import pytest
import torch
from helpers import reference_package

from dni_rnn_tasks.rl.envs import MemoryChain


class ScriptedMemoryChain(MemoryChain):
    """MemoryChain whose episodes take the context and query set in ``next_context``/``next_query``."""

    def _sample_episode(self):
        return self.next_context.clone(), self.next_query.clone()


@pytest.mark.parametrize("memory_length,num_bits", [(1, 1), (4, 1), (5, 3)])
def test_memory_chain_matches_bsuite(memory_length, num_bits):
    memory_chain = reference_package("bsuite.environments.memory_chain")
    B = 4
    references = [memory_chain.MemoryChain(memory_length, num_bits, seed=seed) for seed in range(B)]
    env = ScriptedMemoryChain(num_envs=B, memory_length=memory_length, num_bits=num_bits)

    def script_from_references():
        env.next_context = torch.tensor(np.stack([r._context for r in references]), dtype=torch.long)
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
