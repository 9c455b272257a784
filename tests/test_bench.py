"""The benchmark's hand-written DNI window is a fair reference: it trains exactly what the engine's ``dni`` trains."""

import pytest
import torch
from torch import nn

from scripts.bench import HandWrittenDNI, make_learners, make_windows


def test_hand_written_dni_window_matches_the_engine_as_timed():
    torch.manual_seed(0)
    hidden, layers, batch, features = 8, 2, 4, 3
    hand = HandWrittenDNI("lstm", features, hidden, layers, features, lr=1e-2)
    timed = make_learners("lstm", hidden, layers, batch, features, features, ("dni",))["dni"]  # what the bench times
    engine = timed.engine
    engine.optimizer.param_groups[0]["lr"] = 1e-2
    with torch.no_grad():
        engine.core.rnn.load_state_dict(hand.rnn.state_dict())
        engine.head.readout.load_state_dict(hand.readout.state_dict())
        nn.init.normal_(hand.module.weight, std=0.1)  # a nonzero M, so that the injection is tested too
        engine.synthetic_gradient.net[-1].load_state_dict(hand.module.state_dict())
    # Targets 10x the bench's, so that both gradient clips (at norm 1) act: a missing clip shows.
    windows = [w._replace(targets=10 * w.targets) for w in make_windows(4, 3, batch, features, features)]
    hand_state, engine_state = hand.initial_state(batch), timed.initial_state(batch)
    clipped = False
    for window in windows:
        hand_state, _ = hand.step(window, hand_state)
        engine_state, metrics = timed.step(window, engine_state)
        clipped |= bool(metrics["charts/grad_norm"] > 1.0)
    assert clipped
    torch.testing.assert_close(hand_state[0], engine_state[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(hand.module.weight, engine.synthetic_gradient.net[-1].weight, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(hand.rnn.parameters(), engine.core.rnn.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)


def test_hand_written_dni_is_an_lstm_window():
    with pytest.raises(ValueError, match="LSTM"):
        HandWrittenDNI("gru", 3, 8, 1, 3, lr=1e-3)


def test_op_counts_see_the_guard_as_the_engines_one_host_sync():
    from scripts.bench import count_methods, profile_methods

    counts = {r["method"]: r for r in count_methods("lstm", 8, 1, 4, 2, ("tbptt", "hand_dni", "dni"), windows=4)}
    assert counts["tbptt"]["host_syncs"] == counts["hand_dni"]["host_syncs"] == 0
    assert counts["dni"]["host_syncs"] == 1
    assert counts["dni"]["ops"] > counts["hand_dni"]["ops"] > counts["tbptt"]["ops"]
    profiled = profile_methods("lstm", 8, 1, 4, 2, ("dni",), windows=4, warmup=2, top=3)
    assert profiled[0]["self_cpu_us"] > 0 and len(profiled[0]["top_self_cpu_us"]) == 3
