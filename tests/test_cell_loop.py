"""``--reset-loop compiled``: the compiled step loop computes what the split fused calls compute, resets included."""

import pytest
import torch

from dni_rnn.cores import LSTMCore, make_core
from dni_rnn.state import state_tensors
from dni_rnn.train_config import TrainConfig

F, H, B, T = 3, 6, 5, 7


def scattered_resets(batch_first: bool) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    resets = torch.rand(T, B, generator=gen) < 0.3
    resets[0, 0] = True  # entry 0 resets at the first step: its carried state is poisoned below
    return resets.t().contiguous() if batch_first else resets


@pytest.mark.parametrize("cell,layers,batch_first", [("lstm", 2, False), ("gru", 1, True)])
def test_compiled_loop_equals_split_calls_and_never_leaks_across_a_reset(cell, layers, batch_first):
    torch.manual_seed(0)
    split = make_core(cell, F, H, layers, batch_first=batch_first)
    compiled = make_core(cell, F, H, layers, batch_first=batch_first, reset_loop="compiled")
    compiled.load_state_dict(split.state_dict())
    inputs = torch.randn((B, T, F) if batch_first else (T, B, F))
    resets = scattered_resets(batch_first)
    start = [t.normal_() for t in state_tensors(split.initial_state(B))]
    for tensor in start:
        tensor[:, 0] = float("nan")  # entry 0 resets before step 0: its carried state must reach nothing
    results = []
    for core in (split, compiled):
        leaves = [t.clone().requires_grad_() for t in start]
        state = type(split.initial_state(B))(*leaves) if cell == "lstm" else leaves[0]
        outputs, final = core(inputs, state, resets)
        (outputs.square().sum() + sum(t.sum() for t in state_tensors(final))).backward()
        grads = [p.grad for p in core.parameters()] + [t.grad for t in leaves]
        results.append([outputs, *state_tensors(final), *grads])
    for expected, got in zip(*results):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for tensor in results[1]:  # the NaN state of entry 0 reached no output, state or gradient
        assert torch.isfinite(tensor).all()


def test_compiled_loop_refuses_what_it_cannot_compute():
    for bad, message in (
        (lambda: LSTMCore(F, H, 2, dropout=0.5, reset_loop="compiled"), "dropout"),
        (lambda: LSTMCore(F, H, 1, proj_size=2, reset_loop="compiled"), "proj_size"),
        (lambda: make_core("rtu", F, H, reset_loop="compiled"), "rtu"),
        (lambda: make_core("lstm", F, H, reset_loop="fast"), "reset_loop"),
        (lambda: TrainConfig(cell="rtu", reset_loop="compiled"), "rtu"),
    ):
        with pytest.raises(ValueError, match=message):
            bad()
