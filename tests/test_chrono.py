"""Chrono initialisation of the LSTM / GRU gate biases (``--chrono-steps``): what it sets and what it leaves."""

import math

import pytest
import torch

from dni_rnn.cores import chrono_init_, make_core

F, H = 3, 64


def gate_bias(rnn, layer: int, gate: int) -> torch.Tensor:
    """``bias_ih + bias_hh`` of gate ``gate`` (torch's order) in ``layer`` (the bias of the gate's pre-activation
    at zero input and state, except a GRU's candidate ``n``, whose ``bias_hh`` part is scaled by ``r``)."""
    total = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
    return total.detach()[gate * H : (gate + 1) * H]


@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_forget_gate_keeps_between_2_and_max_steps(layers):
    torch.manual_seed(0)
    rnn = make_core("lstm", F, H, layers, chrono_steps=32).rnn
    for layer in range(layers):
        forget = gate_bias(rnn, layer, 1)
        assert forget.min() >= 0 and forget.max() <= math.log(31)
        assert forget.std() > 0.3  # time constants spread over the range, not one value
        assert torch.equal(gate_bias(rnn, layer, 0), -forget)  # input gate: the negative
    torch.manual_seed(0)
    default = make_core("lstm", F, H, layers).rnn
    for layer in range(layers):
        for gate in (2, 3):  # the candidate g and the output gate keep torch's biases
            assert torch.equal(gate_bias(rnn, layer, gate), gate_bias(default, layer, gate))
    # The keep gate sigmoid(b_f) at zero input and state: a time constant 1 / (1 - f) in [2, 32] steps.
    keep = torch.sigmoid(gate_bias(rnn, 0, 1))
    assert (1 / (1 - keep)).min() >= 2 - 1e-5 and (1 / (1 - keep)).max() <= 32 + 1e-4


def test_gru_update_gate_and_other_biases():
    torch.manual_seed(0)
    default = make_core("gru", F, H).rnn
    torch.manual_seed(0)
    chrono = make_core("gru", F, H, chrono_steps=16).rnn
    assert gate_bias(chrono, 0, 1).min() >= 0 and gate_bias(chrono, 0, 1).max() <= math.log(15)
    assert gate_bias(chrono, 0, 1).std() > 0.3
    for gate in (0, 2):  # the reset gate and the candidate keep torch's biases
        assert torch.equal(gate_bias(chrono, 0, gate), gate_bias(default, 0, gate))
    for name in ("weight_ih_l0", "weight_hh_l0"):  # chrono draws after torch's own init: the weights are unchanged
        assert torch.equal(getattr(chrono, name), getattr(default, name))


def test_off_by_default_and_deterministic():
    torch.manual_seed(3)
    first = make_core("lstm", F, H, chrono_steps=8).state_dict()
    torch.manual_seed(3)
    again = make_core("lstm", F, H, chrono_steps=8).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    torch.manual_seed(3)
    off = make_core("lstm", F, H).rnn
    after_off = torch.rand(1)
    torch.manual_seed(3)
    plain = torch.nn.LSTM(F, H)
    assert torch.equal(torch.rand(1), after_off)  # off draws nothing more than a plain nn.LSTM
    assert all(torch.equal(a, b) for a, b in zip(off.parameters(), plain.parameters()))


def test_bad_chrono_arguments_are_clear():
    for steps in (2, -1):  # make_core leaves the range to chrono_init_
        with pytest.raises(ValueError, match="0 \\(off\\) or >= 3"):
            make_core("lstm", F, H, chrono_steps=steps)
    with pytest.raises(ValueError, match="lstm and gru"):
        make_core("rtu", F, H, chrono_steps=16)
    with pytest.raises(ValueError, match="with biases"):
        chrono_init_(torch.nn.LSTM(F, H, bias=False), 16)


def test_bad_chrono_steps_write_no_run_directory(tmp_path):
    from dni_rnn.cli import main

    assert main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", "--chrono-steps", "2"]) == 2
    assert not (tmp_path / "r").exists()  # refused before the run directory is opened
