"""Cores: shapes, the fused path against a step-by-step reference, resets, wrapping, round trips."""

import io
import itertools
import math

import pytest
import torch
from helpers import reference_unroll
from torch import nn

from dni_rnn.cores import Core, EncodedCore, GRUCore, LSTMCore, RNNCore, make_core, sparse_init_
from dni_rnn.state import LSTMState, detach_state, flatten_state, state_tensors, unflatten_state

F, H, B, T = 3, 6, 5, 7


@pytest.mark.parametrize("cell,layers,batch_first", list(itertools.product(["lstm", "gru"], [1, 2], [False, True])))
def test_shapes(cell, layers, batch_first):
    core = make_core(cell, F, H, layers, batch_first=batch_first)
    state = core.initial_state(B)
    if cell == "lstm":
        assert isinstance(state, LSTMState) and state.hidden.shape == state.cell.shape == (layers, B, H)
        h, c = state  # unpacks like torch's (h, c)
    else:
        assert state.shape == (layers, B, H)
    inputs = torch.randn(B, T, F) if batch_first else torch.randn(T, B, F)
    resets = torch.zeros(inputs.shape[:2], dtype=torch.bool)
    resets[(slice(None), 3) if batch_first else (3, slice(None))] = True
    for r in (None, resets):
        outputs, next_state = core(inputs, state, r)
        assert outputs.shape == inputs.shape[:2] + (H,)
        assert [t.shape for t in state_tensors(next_state)] == [t.shape for t in state_tensors(state)]
    flat = flatten_state(next_state)
    assert flat.shape == (B, layers * H * (2 if cell == "lstm" else 1))
    for a, b in zip(state_tensors(unflatten_state(flat, next_state)), state_tensors(next_state)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("cell,layers", list(itertools.product(["lstm", "gru"], [1, 2])))
def test_fused_path_equals_step_by_step_reference(cell, layers):
    core = make_core(cell, F, H, layers)
    inputs = torch.randn(T, B, F)
    resets = torch.rand(T, B) < 0.3
    state = tuple(torch.randn_like(t) for t in state_tensors(core.initial_state(B)))
    state = LSTMState(*state) if cell == "lstm" else state[0]
    for r in (torch.zeros_like(resets), resets):
        outputs, final = core(inputs, state, r)
        ref_outputs, ref_final = reference_unroll(core.rnn, inputs, state, r)
        torch.testing.assert_close(outputs, ref_outputs, rtol=1e-10, atol=1e-12)
        for a, b in zip(state_tensors(final), state_tensors(ref_final)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reset_equals_fresh_sequence(cell):
    """A reset at step t gives the outputs and gradients of a fresh sequence started at t; nothing leaks."""
    core = make_core(cell, F, H, 2)
    t0 = 4
    inputs = torch.randn(T, B, F)
    resets = torch.zeros(T, B, dtype=torch.bool)
    resets[t0, 1] = True  # only entry 1 resets
    start = tuple(torch.randn_like(s).requires_grad_() for s in state_tensors(core.initial_state(B)))
    start_state = LSTMState(*start) if cell == "lstm" else start[0]
    outputs, final = core(inputs, start_state, resets)
    fresh_outputs, fresh_final = core(inputs[t0:, 1:2], core.initial_state(1))
    torch.testing.assert_close(outputs[t0:, 1:2], fresh_outputs, rtol=1e-10, atol=1e-12)
    for a, b in zip(state_tensors(final), state_tensors(fresh_final)):
        torch.testing.assert_close(a[:, 1:2], b, rtol=1e-10, atol=1e-12)
    # No gradient crosses the reset: entry 1's later outputs do not depend on its start state.
    grads = torch.autograd.grad(outputs[t0:, 1].sum() + flatten_state(final)[1].sum(), start, retain_graph=True)
    assert all(torch.count_nonzero(g[:, 1]) == 0 for g in grads)
    # ... and the other entries still do.
    grads = torch.autograd.grad(outputs[t0:, 0].sum(), start, allow_unused=True)
    assert torch.count_nonzero(grads[0][:, 0]) > 0


def test_custom_rnnbase_and_plain_module_are_cores():
    class MyRNN(nn.RNN):  # a user's own nn.RNNBase subclass
        pass

    core = RNNCore(MyRNN(F, H, 2))
    outputs, state = core(torch.randn(T, B, F), core.initial_state(B), torch.rand(T, B) < 0.2)
    assert outputs.shape == (T, B, H) and state.shape == (2, B, H)
    assert all(isinstance(c, Core) for c in (core, LSTMCore(F, H), GRUCore(F, H)))  # the protocol, checked
    embedded = EncodedCore(nn.Embedding(10, F), GRUCore(F, H))
    outputs, _ = embedded(torch.randint(0, 10, (T, B)), embedded.initial_state(B))
    assert outputs.shape == (T, B, H)


def test_bad_core_arguments_are_clear():
    with pytest.raises(ValueError, match="unknown cell"):
        make_core("transformer", F, H)
    with pytest.raises(ValueError, match="must be >= 1"):
        make_core("lstm", F, 0)
    with pytest.raises(ValueError, match="bidirectional"):
        RNNCore(nn.LSTM(F, H, bidirectional=True))
    core = LSTMCore(F, H)
    with pytest.raises(ValueError, match="resets of shape"):
        core(torch.randn(T, B, F), core.initial_state(B), torch.zeros(T, B + 1, dtype=torch.bool))


def test_state_dict_round_trip():
    core = LSTMCore(F, H, 2)
    buffer = io.BytesIO()
    torch.save(core.state_dict(), buffer)
    buffer.seek(0)
    copy = LSTMCore(F, H, 2)
    copy.load_state_dict(torch.load(buffer))
    inputs = torch.randn(T, B, F)
    assert torch.equal(core(inputs, core.initial_state(B))[0], copy(inputs, copy.initial_state(B))[0])


def test_detach_state_cuts_the_graph_and_passes_detached_tensors_through():
    """A state in a graph comes back out of it (same values, shared storage); one already out of any graph is
    returned as it is (the engine's carried state: no detach op per window)."""
    weight = torch.ones(1, 2, 3, requires_grad=True)
    in_graph = LSTMState(weight * 2, weight * 3)
    out = detach_state(in_graph)
    assert not any(t.requires_grad for t in state_tensors(out))
    assert all(o.data_ptr() == t.data_ptr() for o, t in zip(state_tensors(out), state_tensors(in_graph)))
    assert all(torch.equal(o, t) for o, t in zip(state_tensors(out), state_tensors(in_graph)))
    carried = LSTMState(torch.zeros(1, 2, 3), torch.ones(1, 2, 3))
    assert all(o is t for o, t in zip(state_tensors(detach_state(carried)), state_tensors(carried)))


@pytest.mark.parametrize("cell,layers", [("lstm", 1), ("lstm", 2), ("gru", 1)])
def test_sparse_init_zeroes_that_fraction_of_every_row_and_keeps_the_biases(cell, layers):
    torch.manual_seed(0)
    sparse = make_core(cell, 5, 16, layers, chrono_steps=8).rnn
    before = {name: p.detach().clone() for name, p in sparse.named_parameters()}
    sparse_init_(sparse, 0.9)
    for name, weight in sparse.named_parameters():
        if name.startswith("weight_"):
            rows, fan_in = weight.shape
            zeros = (weight == 0).sum(dim=1)
            assert torch.equal(zeros, torch.full((rows,), round(0.9 * fan_in)))  # per row, not on average
            assert weight.abs().max() <= 1 / math.sqrt(fan_in)
            assert not torch.equal(weight, before[name])
        else:  # the biases (chrono's) are left alone
            assert torch.equal(weight, before[name])
    torch.manual_seed(0)
    sparse = make_core(cell, 5, 16, layers, chrono_steps=8, sparse_init=0.9).rnn
    torch.manual_seed(0)
    again = make_core(cell, 5, 16, layers, chrono_steps=8, sparse_init=0.9).rnn
    assert all(torch.equal(a, b) for a, b in zip(sparse.parameters(), again.parameters()))


def test_bad_sparse_init_is_clear(tmp_path):
    from dni_rnn.cli import main

    for sparsity in (1.0, -0.1):
        with pytest.raises(ValueError, match="sparsity must be in"):
            make_core("lstm", 3, 8, sparse_init=sparsity)
    with pytest.raises(ValueError, match="lstm and gru"):
        make_core("rtu", 3, 8, sparse_init=0.5)
    assert main(["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", "--sparse-init", "1"]) == 2
    assert not (tmp_path / "r").exists()
