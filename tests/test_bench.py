"""The benchmark's hand-written DNI window is a fair reference: it trains exactly what the engine's ``dni`` trains."""

import torch
from torch import nn

from scripts.bench import HandWrittenDNI, make_learners, make_windows


def test_hand_written_dni_window_matches_the_engine():
    torch.manual_seed(0)
    hidden, layers, batch, features = 8, 2, 4, 3
    hand = HandWrittenDNI("lstm", features, hidden, layers, features, lr=1e-2)
    engine = make_learners("lstm", hidden, layers, batch, features, features, ("dni",))["dni"].engine
    engine.optimizer.param_groups[0]["lr"] = 1e-2
    engine.base_lrs = [1e-2]
    with torch.no_grad():
        engine.core.rnn.load_state_dict(hand.rnn.state_dict())
        engine.head.readout.load_state_dict(hand.readout.state_dict())
        nn.init.normal_(hand.module.weight, std=0.1)  # a nonzero M, so that the injection is tested too
        engine.synthetic_gradient.net[-1].load_state_dict(hand.module.state_dict())
    windows = make_windows(4, 3, batch, features, features)
    hand_state, engine_state = hand.initial_state(batch), engine.initial_state(batch)
    for window in windows:
        hand_state, _ = hand.step(window, hand_state)
        engine_state, _ = engine.step(window._replace(next_resets=None), engine_state)
    torch.testing.assert_close(hand_state[0], engine_state[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(hand.module.weight, engine.synthetic_gradient.net[-1].weight, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(hand.rnn.parameters(), engine.core.rnn.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
