"""flatten_observation against gymnasium.spaces.flatten (dni_rnn_tasks/rl/observations.py)."""

import gymnasium
import numpy as np
import torch

from dni_rnn_tasks.rl.observations import flatten_observation


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
        batch = gymnasium.vector.utils.concatenate(space, samples, gymnasium.vector.utils.create_empty_array(space, 5))
        torch_batch = (
            {k: torch.as_tensor(v) for k, v in batch.items()} if isinstance(batch, dict) else torch.as_tensor(batch)
        )
        expected = np.stack([spaces.flatten(space, s) for s in samples]).astype(np.float32)
        np.testing.assert_allclose(flatten_observation(space, torch_batch).numpy(), expected)
        assert flatten_observation(space, torch_batch).shape == (5, spaces.flatdim(space))
