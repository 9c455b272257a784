"""RunLogger: ratios combined over the windows between log points, and its state across a resume."""

import torch

from dni_rnn.tensorboard_log import Ratio, RunLogger


def test_ratio_is_sum_over_sum_and_skipped_without_a_denominator(tmp_path):
    logger = RunLogger(str(tmp_path), {}, enabled=False)
    logger.accumulate({"charts/episodic_return": Ratio(torch.tensor(3.0), torch.tensor(2.0))})
    logger.accumulate({"charts/episodic_return": Ratio(torch.tensor(1.0), torch.tensor(2.0))})
    assert logger.flush_window_metrics(10)["charts/episodic_return"] == 1.0  # (3 + 1) / (2 + 2)
    logger.accumulate({"charts/episodic_return": Ratio(torch.tensor(0.0), torch.tensor(0.0))})
    assert "charts/episodic_return" not in logger.flush_window_metrics(20)  # no episode ended
    assert logger.flush_window_metrics(30) == {}  # and the sums were cleared


def test_state_dict_carries_the_partial_sums(tmp_path):
    a = RunLogger(str(tmp_path), {}, enabled=False)
    b = RunLogger(str(tmp_path), {}, enabled=False)
    a.accumulate({"losses/task": torch.tensor(1.0), "charts/r": Ratio(torch.tensor(2.0), torch.tensor(4.0))})
    b.load_state_dict(a.state_dict())
    for logger in (a, b):
        logger.accumulate({"losses/task": torch.tensor(3.0), "charts/r": Ratio(torch.tensor(1.0), torch.tensor(2.0))})
    want, got = a.flush_window_metrics(10), b.flush_window_metrics(10)
    assert want["losses/task"] == got["losses/task"] == 2.0 and want["charts/r"] == got["charts/r"] == 0.5
