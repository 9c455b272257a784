"""The run directory format: names with and without a variant, summary.json round trip."""

import json

import pytest

from dni_rnn.run_directory import RunName, format_run_name, is_finished, parse_run_name, read_summary, write_summary


@pytest.mark.parametrize(
    "name,expected",
    [
        ("copy__dni__T3__s0", RunName("copy", "dni", 3, 0, "")),
        ("copy__dni__T3__s0__best", RunName("copy", "dni", 3, 0, "best")),
        ("repeat_copy__dni_aux__T8__s2__1712345678", RunName("repeat_copy", "dni_aux", 8, 2, "1712345678")),
        ("rl__bptt__T4__s1__memory-length8__best", RunName("rl", "bptt", 4, 1, "memory-length8__best")),
        ("notes", None),
        ("copy__dni__T3__sx", None),
    ],
)
def test_parse_run_name(name, expected):
    assert parse_run_name(name) == expected


def test_format_and_parse_round_trip():
    for variant in ("", "best", "memory-length8__best"):
        name = format_run_name("copy", "dni", 4, 7, variant)
        assert parse_run_name(name) == RunName("copy", "dni", 4, 7, variant)


def test_summary_round_trip(tmp_path):
    assert read_summary(tmp_path) is None and not is_finished(tmp_path)
    write_summary(tmp_path, {"task": "copy", "max_length": 5.0})
    assert is_finished(tmp_path) and read_summary(tmp_path) == {"task": "copy", "max_length": 5.0}
    (tmp_path / "summary.json").write_text("{")
    with pytest.raises(json.JSONDecodeError):
        read_summary(tmp_path)
