"""Declared option ranges (dni_rnn/config.py): the library raises ValueError, as the CLI exits 2 with one line."""

import math

import pytest

from dni_rnn import EngineConfig
from dni_rnn.config import check_value
from dni_rnn.train_config import TrainConfig


@pytest.mark.parametrize(
    "cls,kwargs,message",
    [
        (EngineConfig, {"grad_clip": -1.0}, "--grad-clip must be >= 0"),
        (EngineConfig, {"lr": math.inf}, "--lr must be finite"),
        (EngineConfig, {"sg_hidden": (0,)}, "--sg-hidden must be >= 1"),
        (EngineConfig, {"sg_scale": -1.0}, "--sg-scale must be >= 0"),
        (EngineConfig, {"method": "magic"}, "unknown method .magic.; choose one of bptt, dni, dni_aux"),
        (TrainConfig, {"steps": 0}, "--steps must be >= 1"),
        (TrainConfig, {"threads": -1}, "--threads must be >= 0"),
        (TrainConfig, {"run_name": "../x"}, "--run-name '../x' must be a single folder name"),
    ],
)
def test_out_of_range_settings_raise_value_error_in_the_library(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_check_value_names_the_flag():
    with pytest.raises(ValueError, match="--sg-lr must be finite, got nan"):
        check_value("sg_lr", math.nan)
    check_value("sg_lr", 1e-3, low=0.0)
