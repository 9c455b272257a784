"""Packaging: the task package installs as dni_rnn_tasks (a user's tasks.py cannot shadow it); lean extras."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_a_users_tasks_py_does_not_shadow_the_tasks(tmp_path):
    (tmp_path / "tasks.py").write_text("MINE = True\n")
    code = (
        "import tasks, dni_rnn_tasks\n"
        "from dni_rnn.task import available_tasks, load_task\n"
        "assert tasks.MINE\n"
        "assert {'copy', 'repeat_copy', 'ptb', 'rl'} <= set(available_tasks()), available_tasks()\n"
        "for name in ('copy', 'repeat_copy', 'ptb', 'rl'):\n"
        "    assert load_task(name).__module__.startswith('dni_rnn_tasks.'), name\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_tasks_is_not_importable_from_elsewhere(tmp_path):
    code = "import importlib.util, dni_rnn_tasks\nprint(importlib.util.find_spec('tasks'))\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


def test_the_dev_extra_is_lean_and_ci_installs_the_reference_packages():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {key: {re.split(r"[<>=!~ \[]", req)[0].lower() for req in reqs} for key, reqs in extras.items()}
    assert names["dev"] == {"pytest", "ruff", "matplotlib"}
    assert names["reference"] == {"popgym", "bsuite"}
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("pip install --quiet torch==2.13.0") < ci.index('pip install --quiet -e ".[dev,reference]"')


def test_the_readme_architecture_table_matches_the_tree():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Architecture") :]
    table = table[: table.index("\n\n", table.index("| module |"))]
    library = {path.name for path in (ROOT / "dni_rnn").glob("*.py")}
    named = set(re.findall(r"`dni_rnn/(\w+\.py)`", table))
    assert named == library, f"README's table lacks {library - named}, names missing {named - library}"
    tasks_row = next(line for line in table.splitlines() if line.startswith("| `tasks/` |"))
    task_files = {p.name for p in (ROOT / "tasks").rglob("*.py")} - {"__init__.py", "__main__.py"}
    assert {name for name in task_files if f"`{name}`" not in tasks_row} == set()
