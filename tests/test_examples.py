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


def test_readme_own_loop_snippet_runs():
    """The README's SyntheticBoundary snippet, as printed, runs."""
    readme = (EXAMPLE.parent.parent / "README.md").read_text()
    code = readme.split("### DNI in your own training loop", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["boundary"].module.net[-1].weight.abs().sum() > 0  # M learned something
