"""The task package installs as dni_rnn_tasks, so a user's own tasks.py cannot shadow it."""

import subprocess
import sys


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
