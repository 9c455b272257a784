"""The README's own-loop example runs and learns (examples/own_loop.py, with the user's AdamW and schedule)."""
import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "own_loop.py"


def test_own_loop_example_learns():
    spec = importlib.util.spec_from_file_location("own_loop", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bits = module.main(["--windows", "200"])
    assert bits < 4.2  # from ~5.6 bits (uniform over the text's characters) at the first window
