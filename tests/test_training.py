"""The training loop's pure pieces: the learning-rate schedule."""
import math

import pytest

from dni_rnn.training import TrainConfig, lr_factor


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
