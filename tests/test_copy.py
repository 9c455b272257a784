"""Copy and repeat copy: sequence layout, stream boundaries, curriculum."""

import pytest
import torch

from dni_rnn.training import TrainConfig
from dni_rnn_tasks.copy_tasks import CopyOptions, CopyTask, RepeatCopyTask


def make(task_class, horizon=3, batch=2, **options):
    train = TrainConfig(task="copy", horizon=horizon, batch_size=batch, steps=1000)
    return task_class(CopyOptions(**options), train, torch.device("cpu"))


def test_copy_sequence_layout():
    task = make(CopyTask, bits=4)
    task.length = 3
    inputs, targets, mask, resets, ends = task._sequence()
    assert inputs.shape == (7, 2, 5) and targets.shape == (7, 2, 4)
    assert torch.equal(targets[4:], inputs[:3, :, :4])  # the output phase repeats the pattern
    assert inputs[3, :, 4].eq(1).all() and inputs[:3, :, 4].eq(0).all()  # delimiter channel
    assert mask.tolist() == [[0, 0]] * 4 + [[1, 1]] * 3
    assert resets[0].all() and not resets[1:].any() and ends.tolist() == [False] * 6 + [True]


def test_repeat_copy_sequence_layout():
    task = make(RepeatCopyTask, bits=4)
    task.length, task.repeats = 2, 3
    inputs, targets, mask, resets, ends = task._sequence()
    assert inputs.shape == (2 + 1 + 6 + 1, 2, 6) and targets.shape == (10, 2, 5)
    assert torch.allclose(inputs[2, :, 5], torch.tensor(0.3))  # repeat count R / 10 at the delimiter
    for r in range(3):
        assert torch.equal(targets[3 + 2 * r : 5 + 2 * r, :, :4], inputs[:2, :, :4])
    assert targets[-1, :, 4].eq(1).all() and targets[:-1, :, 4].eq(0).all()  # end marker
    assert mask[3:].eq(1).all() and mask[:3].eq(0).all()


def test_stream_windows_mark_sequence_boundaries():
    task = make(CopyTask, horizon=3)  # N = 1: sequences of 3 steps, aligned with windows of 3
    for _ in range(4):
        window, _ = task.next_window(None, None)
        assert window.inputs.shape == (3, 2, 9)
        assert window.resets[0].all() and window.next_resets.all()  # the next window starts a new sequence
    task = make(CopyTask, horizon=2)
    flags = [task.next_window(None, None)[0].next_resets.all().item() for _ in range(3)]
    assert flags == [False, False, True]  # steps 0-1 | 2-3 | 4-5: sequences start at 0, 3, 6


def test_curriculum_advances_below_threshold_only():
    task = make(CopyTask, check_every=1)
    good = {"bits_sum": torch.tensor(0.1 * 8), "output_steps": torch.tensor(1.0)}
    bad = {"bits_sum": torch.tensor(0.2 * 8), "output_steps": torch.tensor(1.0)}
    task._ended = 2
    assert task.observe({}, bad)["charts/curriculum_loss"] == 0.2 and task.length == 1
    task._ended = 2
    task.observe({}, good)
    assert task.length == 2
    repeat = make(RepeatCopyTask, check_every=1)
    levels = []
    for _ in range(4):
        repeat._ended = 2
        repeat.observe({}, {"bits_sum": torch.tensor(0.0), "output_steps": torch.tensor(1.0)})
        levels.append((repeat.length, repeat.repeats))
    assert levels == [(2, 1), (2, 2), (3, 2), (3, 3)]  # R up to N, then N
    assert repeat.summary() == {"max_length": 3.0, "max_repeats": 3.0}


@pytest.mark.parametrize("kind,width", [("inputs", 9), ("targets", 9)])
def test_conditioned_m_reads_the_next_window(kind, width):
    """cDNI: a window's next_context is what the next window's context will be: its inputs (or its targets
    and loss mask), flattened over its steps, [B, T * width]."""
    train = TrainConfig(task="copy", horizon=3, batch_size=4, steps=300)
    task = CopyTask(CopyOptions(sg_context=kind), train, torch.device("cpu"))
    assert task.context_size == 3 * width
    first, _ = task.next_window(None, None)
    second, _ = task.next_window(None, None)
    assert first.next_context.shape == (4, 3 * width)
    torch.testing.assert_close(first.next_context, second.context, rtol=0, atol=0)
    seen = second.inputs if kind == "inputs" else torch.cat([second.targets, second.loss_mask.unsqueeze(-1)], -1)
    torch.testing.assert_close(second.context, seen.transpose(0, 1).flatten(1), rtol=0, atol=0)


def test_unconditioned_stream_is_unchanged_by_the_context_option():
    """Reading one window further ahead for cDNI must not change the stream itself."""
    train = TrainConfig(task="copy", horizon=3, batch_size=4, steps=300)
    plain = CopyTask(CopyOptions(), train, torch.device("cpu"))
    conditioned = CopyTask(CopyOptions(sg_context="inputs"), train, torch.device("cpu"))
    for _ in range(7):
        a, _ = plain.next_window(None, None)
        b, _ = conditioned.next_window(None, None)
        assert a.context is None and torch.equal(a.inputs, b.inputs) and torch.equal(a.next_resets, b.next_resets)


def test_staggered_streams_are_aligned_streams_delayed_by_their_offsets():
    """stagger: stream b is idle (zero inputs, no loss, no reset) for offset_b steps, then a stream of whole
    sequences like the aligned one: a reset every 2N + 1 steps and outputs that repeat the pattern."""
    task = make(CopyTask, horizon=3, batch=6, stagger=True)
    task.length = n = 3
    offsets = task._offsets.tolist()
    assert len(set(offsets)) > 1 and all(0 <= o < 64 for o in offsets)
    windows = [task.next_window(None, None)[0] for _ in range(60)]
    inputs, targets, mask, resets = (
        torch.cat([getattr(w, f) for w in windows]) for f in ("inputs", "targets", "loss_mask", "resets")
    )
    period = 2 * n + 1
    for b, offset in enumerate(offsets):
        assert not inputs[:offset, b].any() and not mask[:offset, b].any() and not resets[:offset, b].any()
        starts = resets[:, b].nonzero().flatten().tolist()
        assert starts == list(range(offset, inputs.shape[0], period))
        for start in starts[:-1]:
            torch.testing.assert_close(targets[start + n + 1 : start + period, b], inputs[start : start + n, b, :8])
            assert mask[start : start + n + 1, b].eq(0).all() and mask[start + n + 1 : start + period, b].eq(1).all()


def test_staggered_stream_resumes_exactly_and_counts_sequences_per_stream():
    task = make(CopyTask, horizon=2, batch=4, stagger=True)
    for _ in range(37):
        task.next_window(None, None)
    saved = task.state_dict()
    twin = make(CopyTask, horizon=2, batch=4, stagger=True)
    twin.load_state_dict(saved)
    for _ in range(20):
        a, b = task.next_window(None, None)[0], twin.next_window(None, None)[0]
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.resets, b.resets)
        assert torch.equal(a.next_resets, b.next_resets)
    assert task._ended == twin._ended > 0
    assert task._source[0].shape[0] <= 64 + 3 * 3  # consumed steps are dropped: the buffer stays bounded


def test_a_checkpoint_from_before_stagger_resumes_the_same_stream():
    """Checkpoints written before --stagger hold the aligned ``pending`` steps and a per-entry sequence count."""
    task = make(CopyTask, horizon=2, batch=2)
    for _ in range(5):
        task.next_window(None, None)
    state = task.state_dict()
    first = state["time"] - state["source_start"]
    old = {
        k: v for k, v in state.items() if k not in ("source", "source_ends", "source_start", "time", "offsets", "ended")
    }
    old["pending"] = [p[first:] for p in state["source"]] + [state["source_ends"][first:]]
    old["sequences"] = state["ended"] // 2
    twin = make(CopyTask, horizon=2, batch=2)
    twin.load_state_dict(old)
    for _ in range(10):
        assert torch.equal(task.next_window(None, None)[0].inputs, twin.next_window(None, None)[0].inputs)
    assert task._ended == twin._ended


@pytest.mark.parametrize("context_steps", [1, 5])
def test_past_inputs_context_steps_reach_back_across_windows_within_the_episode(context_steps):
    """--context-steps K: at s_T, M reads the last K steps of s_T's episode up to s_T, oldest first and zeros
    before the episode's start, however many windows back they lie; at s_0, the previous window's s_T context."""
    train = TrainConfig(task="copy", horizon=2, batch_size=3, steps=300)
    options = CopyOptions(sg_context="past_inputs", context_steps=context_steps, start_length=2)
    task = CopyTask(options, train, torch.device("cpu"))
    assert task.context_size == context_steps * 9
    history = [[] for _ in range(3)]  # per stream: the inputs of its current episode so far
    previous, reached_back = None, False
    for _ in range(15):
        window, _ = task.next_window(None, None)
        if previous is not None:
            torch.testing.assert_close(window.context, previous.next_context, rtol=0, atol=0)
        expected = torch.zeros(3, context_steps, 9)
        for b in range(3):
            for t in range(2):
                if window.resets[t, b]:
                    history[b] = []
                history[b].append(window.inputs[t, b])
            latest = history[b][-context_steps:]
            expected[b, context_steps - len(latest) :] = torch.stack(latest)
            reached_back |= len(latest) > 2
        torch.testing.assert_close(window.next_context, expected.flatten(1), rtol=0, atol=0)
        previous = window
    assert reached_back == (context_steps > 2)  # sequences of 5 steps: K = 5 reaches into the last window


def test_context_steps_needs_past_inputs():
    with pytest.raises(ValueError, match="past_inputs"):
        CopyOptions(context_steps=4)


def test_past_inputs_context_is_the_window_that_ends_at_the_boundary_within_its_episode():
    """cDNI past_inputs: at s_T, M reads this window's inputs (steps of s_T's episode only); at s_0, the last
    window's, i.e. the previous window's next_context."""
    train = TrainConfig(task="copy", horizon=2, batch_size=3, steps=300)
    task = CopyTask(CopyOptions(sg_context="past_inputs"), train, torch.device("cpu"))
    assert task.context_size == 2 * 9
    previous = None
    saw_reset_inside = False
    for _ in range(12):
        window, _ = task.next_window(None, None)
        if previous is None:
            assert not window.context.any()  # nothing before the first window
        else:
            torch.testing.assert_close(window.context, previous.next_context, rtol=0, atol=0)
        expected = window.inputs.clone()
        for b in range(3):
            starts = window.resets[:, b].nonzero().flatten().tolist()
            if starts and starts[-1] > 0:
                expected[: starts[-1], b] = 0.0  # an ended episode's steps are left out
                saw_reset_inside = True
        torch.testing.assert_close(window.next_context, expected.transpose(0, 1).flatten(1), rtol=0, atol=0)
        previous = window
    assert saw_reset_inside  # N = 1: sequences of 3 steps, so windows of 2 hold resets at step 1
