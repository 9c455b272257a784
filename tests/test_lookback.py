"""EpisodeLookback: the last K inputs of each stream's current episode, across windows."""

import pytest
import torch
from helpers import reference_contexts

from dni_rnn.lookback import EpisodeLookback


@pytest.mark.parametrize("steps,horizon", [(1, 3), (3, 3), (7, 2), (10, 3)])
def test_lookback_is_the_latest_steps_of_each_episode(steps, horizon):
    torch.manual_seed(0)
    windows = [(torch.randn(horizon, 4, 3), torch.rand(horizon, 4) < 0.15) for _ in range(12)]
    windows[5] = (windows[5][0], None)  # a window without resets
    lookback = EpisodeLookback(steps, 4, 3)
    assert lookback.size == steps * 3
    previous = torch.zeros(4, steps * 3)
    for (inputs, resets), expected in zip(windows, reference_contexts(windows, steps)):
        before, after = lookback.advance(inputs, resets)
        torch.testing.assert_close(before, previous, rtol=0, atol=0)
        torch.testing.assert_close(after, expected, rtol=0, atol=0)
        previous = after


def test_lookback_state_round_trips_and_bad_steps_are_refused():
    lookback = EpisodeLookback(4, 2, 3)
    lookback.advance(torch.randn(3, 2, 3), None)
    twin = EpisodeLookback(4, 2, 3)
    twin.load_state_dict(lookback.state_dict())
    inputs = torch.randn(2, 2, 3)
    assert torch.equal(lookback.advance(inputs, None)[1], twin.advance(inputs, None)[1])
    unseen = EpisodeLookback(4, 2, 3)
    unseen.load_state_dict(None)  # a checkpoint that kept no lookback: the past stays zeros
    assert not unseen.flat().any()
    with pytest.raises(ValueError, match=">= 1 steps"):
        EpisodeLookback(0, 2, 3)
