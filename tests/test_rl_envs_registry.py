"""The gymnasium ids of the torch environments (dni_rnn_tasks/rl/envs/registry.py)."""

import subprocess
import sys

import gymnasium

from dni_rnn_tasks.rl import envs
from dni_rnn_tasks.rl.envs import MemoryChain

ALL_IDS = sorted(env_id for env_id in gymnasium.registry if env_id.startswith("dni_rnn/"))


def test_registered_ids():
    expected = {"MemoryChain", "PositionOnlyCartPole"} | {
        f"{name}{level}"
        for name in ("RepeatPrevious", "RepeatFirst", "CountRecall")
        for level in ("", "Easy", "Medium", "Hard")
    }
    assert set(ALL_IDS) == {f"dni_rnn/{name}-v0" for name in expected}
    envs.register_envs()  # idempotent: registering twice neither fails nor duplicates
    assert sorted(i for i in gymnasium.registry if i.startswith("dni_rnn/")) == ALL_IDS


def test_module_prefixed_id_imports_the_module():
    env = gymnasium.make_vec(
        "dni_rnn_tasks.rl.envs:dni_rnn/MemoryChain-v0", num_envs=2, vectorization_mode="vector_entry_point"
    )
    assert isinstance(env, MemoryChain)


def test_registry_lists_every_registered_id():
    assert sorted(envs.ENV_IDS) == ALL_IDS


def test_module_prefixed_id_in_a_fresh_process(tmp_path):
    """gymnasium's "module:EnvId" form works without importing anything of ours first, for every torch env."""
    code = (
        "import gymnasium, torch\n"
        "envs = gymnasium.make_vec('dni_rnn_tasks.rl.envs:dni_rnn/MemoryChain-v0', num_envs=8)\n"
        "obs, _ = envs.reset(seed=0)\n"
        "obs, reward, terminated, truncated, _ = envs.step(torch.zeros(8, dtype=torch.long))\n"
        "assert type(envs).__name__ == 'MemoryChain' and tuple(obs.shape) == (8, 3), (type(envs), obs.shape)\n"
        f"for env_id in {ALL_IDS!r}:\n"
        "    envs = gymnasium.make_vec('dni_rnn_tasks.rl.envs:' + env_id, num_envs=4)\n"
        "    assert isinstance(envs, gymnasium.vector.VectorEnv) and envs.num_envs == 4, env_id\n"
        "    obs, _ = envs.reset(seed=0)\n"
        "    obs, reward, *_ = envs.step(torch.zeros(4, dtype=torch.long))\n"
        "    assert isinstance(obs, torch.Tensor) and tuple(reward.shape) == (4,), env_id\n"
        "print('ok')\n"
    )
    # from another directory, so that nothing of the checkout is importable but the installed package
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
