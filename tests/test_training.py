"""The training loop: the learning-rate schedule, and which windows compute the logged engine metrics."""

import math

import pytest

from dni_rnn.training import TrainConfig, logs_window, lr_factor


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_decaying_schedules_run_from_one_to_the_final_fraction(schedule):
    values = [lr_factor(schedule, 0.1, w, 101) for w in range(101)]
    assert values[0] == 1.0 and math.isclose(values[-1], 0.1)
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert math.isclose(values[50], 0.55)  # both are half-way at the middle window


def test_constant_schedule_and_bad_values():
    assert lr_factor("constant", 0.1, 7, 10) == 1.0
    with pytest.raises(ValueError, match="lr schedule"):
        TrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="lr-final"):
        TrainConfig(lr_schedule="cosine", lr_final=1.5)


def test_logs_window_marks_the_window_that_writes_each_point():
    # --log-every 2 over 5 windows: points after windows 2, 4 and the final one (5); 0-based 1, 3, 4
    assert [logs_window(w, 2, 5) for w in range(5)] == [False, True, False, True, True]
    assert all(logs_window(w, 1, 3) for w in range(3))


def test_only_logged_windows_collect_the_engine_metrics_and_every_point_has_them(tmp_path, capsys, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dni_rnn.cli import main
    from dni_rnn.engine import WindowEngine

    flags, step = [], WindowEngine.step

    def recording_step(self, window, state, collect_metrics=True):
        flags.append(collect_metrics)
        state, metrics = step(self, window, state, collect_metrics)
        assert ("charts/sg_norm" in metrics) == ("charts/delta_norm" in metrics) == collect_metrics
        return state, metrics

    monkeypatch.setattr(WindowEngine, "step", recording_step)
    tiny = ["--horizon", "3", "--steps", "15", "--batch-size", "4", "--hidden", "8", "--log-every", "2"]
    args = ["train", "copy", "--method", "dni", "--logdir", str(tmp_path), "--run-name", "r", "--no-progress"]
    assert main([*args, *tiny]) == 0
    capsys.readouterr()
    assert flags == [False, True, False, True, True]
    events = EventAccumulator(str(tmp_path / "r"))
    events.Reload()
    for tag in ("charts/sg_norm", "charts/delta_norm", "charts/sg_online_cosine", "losses/task"):
        assert [event.step for event in events.Scalars(tag)] == [24, 48, 60], tag  # samples = windows * 3 * 4
