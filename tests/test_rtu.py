"""The RTU core: its windowed RTRL gradient is full BPTT's, exactly, with resets anywhere."""

from __future__ import annotations

import pytest
import torch

from dni_rnn.cores import Core, EncodedCore
from dni_rnn.engine import WindowEngine
from dni_rnn.engine_config import EngineConfig
from dni_rnn.rtu import RTUCore
from dni_rnn.state import detach_state

T_TOTAL, B, D, H = 12, 3, 4, 5


def reference_outputs(core: RTUCore, inputs, resets):
    """Full BPTT through the same recurrence, written directly in complex arithmetic with autograd."""
    lam = torch.exp(-torch.exp(core.nu) + 1j * torch.exp(core.phi))
    gamma = torch.sqrt(1 - torch.exp(-2 * torch.exp(core.nu)))
    weight = torch.complex(core.weight_re, core.weight_im)
    h = torch.zeros(inputs.shape[1], core.hidden_size, dtype=lam.dtype)
    outputs = []
    for t in range(inputs.shape[0]):
        h = torch.where(resets[t][:, None], torch.zeros_like(h), h)
        h = lam * h + gamma * (inputs[t].to(lam.dtype) @ weight.T)
        outputs.append(torch.tanh(torch.cat([h.real, h.imag], dim=-1)))
    return torch.stack(outputs)


def make_case(seed: int, reset_prob: float):
    torch.manual_seed(seed)
    core = RTUCore(D, H, radius=(0.5, 0.99), max_phase=1.0).double()
    inputs = torch.randn(T_TOTAL, B, D, dtype=torch.float64)
    resets = torch.rand(T_TOTAL, B) < reset_prob
    resets[0] = True
    loss_weights = torch.randn(T_TOTAL, B, 2 * H, dtype=torch.float64)
    return core, inputs, resets, loss_weights


def full_gradients(core, inputs, resets, loss_weights):
    core.zero_grad()
    outputs = reference_outputs(core, inputs, resets)
    (outputs * loss_weights).sum().backward()
    return outputs.detach(), [None if p.grad is None else p.grad.clone() for p in core.parameters()]


@pytest.mark.parametrize("horizon,reset_prob", [(1, 0.0), (3, 0.0), (4, 0.2), (12, 0.3)])
def test_windowed_rtrl_equals_full_bptt(horizon, reset_prob):
    core, inputs, resets, loss_weights = make_case(horizon, reset_prob)
    reference, expected = full_gradients(core, inputs, resets, loss_weights)
    core.zero_grad()
    state = core.initial_state(B)
    outputs = []
    for start in range(0, T_TOTAL, horizon):
        window = slice(start, start + horizon)
        out, state = core(inputs[window], detach_state(state), resets[window])
        (out * loss_weights[window]).sum().backward()  # gradients accumulate; the weights do not move
        outputs.append(out.detach())
    torch.testing.assert_close(torch.cat(outputs), reference, rtol=0, atol=1e-12)
    for got, want in zip([p.grad for p in core.parameters()], expected):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_a_reset_cuts_every_gradient_to_the_past():
    core, inputs, resets, loss_weights = make_case(0, 0.0)
    resets[6] = True  # every entry restarts at step 6
    core.zero_grad()
    state = core.initial_state(B)
    _, state = core(inputs[:6], state, resets[:6])
    out, _ = core(inputs[6:], detach_state(state), resets[6:])
    (out * loss_weights[6:]).sum().backward()
    late_only = [p.grad.clone() for p in core.parameters()]
    core.zero_grad()
    out, _ = core(inputs[6:], core.initial_state(B), resets[6:])
    (out * loss_weights[6:]).sum().backward()
    for got, want in zip(late_only, [p.grad for p in core.parameters()]):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_batch_first_and_no_grad_acting_match():
    core, inputs, resets, _ = make_case(1, 0.2)
    state = core.initial_state(B)
    out, last = core(inputs, state, resets)
    with torch.no_grad():  # acting runs without a graph; values and carried state are the same
        acted, acted_last = core(inputs, state, resets)
    core.batch_first = True
    out_bf, last_bf = core(inputs.transpose(0, 1), state, resets.transpose(0, 1))
    torch.testing.assert_close(out.detach(), acted, rtol=0, atol=0)
    torch.testing.assert_close(out_bf.detach().transpose(0, 1), acted, rtol=0, atol=0)
    for a, b, c in zip(last, acted_last, last_bf):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(a, c, rtol=0, atol=0)
    assert isinstance(core, Core) and core.output_size == 2 * H


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="one layer"):
        RTUCore(D, H, num_layers=2)
    with pytest.raises(ValueError, match="radius"):
        RTUCore(D, H, radius=(0.5, 1.0))
    core = RTUCore(D, H)
    with pytest.raises(ValueError, match="no gradient to its inputs"):
        core(torch.randn(2, B, D, requires_grad=True), core.initial_state(B))
    with pytest.raises(ValueError, match="no gradient to its inputs"):
        EncodedCore(torch.nn.Embedding(10, D), core)
    with pytest.raises(ValueError, match="resets of shape"):
        core(torch.randn(2, B, D), core.initial_state(B), torch.zeros(3, B, dtype=torch.bool))


def test_the_engine_refuses_a_synthetic_gradient_for_a_full_gradient_core():
    core = RTUCore(D, H)
    with pytest.raises(ValueError, match="--method bptt"):
        WindowEngine(core, torch.nn.Linear(2 * H, 1), EngineConfig(method="dni"))


def test_a_radius_near_one_stays_finite_in_float32():
    """|lambda| -> 1 (nu very negative): gamma = sqrt(1 - r^2) must not round to 0 and make the gradient 0 * inf."""
    core = RTUCore(D, H).float()  # the suite's default dtype is float64
    with torch.no_grad():
        core.nu.fill_(-18.0)  # 1 - r^2 ~ 3e-8, below float32's resolution near 1
    out, _ = core(torch.randn(3, B, D, dtype=torch.float32), core.initial_state(B))
    out.sum().backward()
    assert torch.isfinite(out).all() and all(torch.isfinite(p.grad).all() for p in core.parameters())
    assert core.weight_re.grad.abs().sum() > 0  # the input path still learns (gamma ~ 2.4e-4, not 0)


def test_frozen_decay_still_trains_the_input_weights():
    core, inputs, resets, loss_weights = make_case(2, 0.2)
    core.nu.requires_grad_(False)
    core.phi.requires_grad_(False)
    _, expected = full_gradients(core, inputs, resets, loss_weights)  # reference grads of W (nu, phi: None)
    core.zero_grad()
    out, _ = core(inputs, core.initial_state(B), resets)
    (out * loss_weights).sum().backward()
    torch.testing.assert_close(core.weight_re.grad, expected[2], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(core.weight_im.grad, expected[3], rtol=1e-9, atol=1e-12)
