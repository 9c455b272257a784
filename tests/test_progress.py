"""The progress display: the task's figures and samples/s, a bar on a terminal, plain lines otherwise."""

import io
import json

from dni_rnn.cli import main
from dni_rnn.progress import Progress

TINY = ["--horizon", "3", "--batch-size", "4", "--hidden", "8", "--log-every", "2", "--threshold", "2.0"]


def test_without_a_terminal_a_plain_line_every_few_percent():
    stream = io.StringIO()
    progress = Progress(total=40, initial=0, samples_per_window=12, desc="run", stream=stream, interactive=False)
    progress.show({"N": "3"})
    for _ in range(40):
        progress.advance()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 20 and "\r" not in stream.getvalue()  # every 5 % of 40 windows: every 2
    assert lines[0].startswith("run: window 2/40 (5%) N=3 samples/s=") and lines[-1].startswith(
        "run: window 40/40 (100%)"
    )


def test_on_a_terminal_the_bar_shows_the_figures_when_they_change():
    stream = io.StringIO()
    progress = Progress(total=10, initial=0, samples_per_window=12, desc="run", stream=stream, interactive=True)
    progress.advance()
    progress.show({"N": "2", "R": "1"})
    assert "N=2, R=1, samples/s=" in stream.getvalue()
    before = stream.getvalue()
    progress.show({"N": "2", "R": "1"})  # unchanged: not redrawn
    assert stream.getvalue() == before
    progress.show({"N": "3", "R": "1"})
    assert "N=3" in stream.getvalue()[len(before) :]
    progress.close()


def test_disabled_shows_nothing():
    stream = io.StringIO()
    progress = Progress(total=4, initial=0, samples_per_window=1, desc="r", enabled=False, stream=stream)
    progress.show({"N": "1"})
    for _ in range(4):
        progress.advance()
    progress.close()
    assert stream.getvalue() == ""


def test_a_copy_run_shows_its_curriculum_level(tmp_path, capsys):
    """The default copy run shows N from the start, and the level it reaches, not only at log points."""
    args = ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", "--steps", "60", "--check-every", "3"]
    assert main([*args, *TINY]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("r: window")]
    assert len(lines) == 20  # stderr is not a terminal under pytest: one line per 5 % of 20 windows
    reached = json.loads(captured.out.strip().splitlines()[-1])["max_length"]
    assert reached > 1 and lines[0].split()[4] == "N=1" and f"N={int(reached)}" in lines[-1]
    assert "bits/bit=" in lines[-1] and "samples/s=" in lines[-1]
