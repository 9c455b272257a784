import gymnasium
import pytest
import torch

# The models in the tests are tiny: one thread is fastest, and it keeps the suite from fighting over
# cores with anything else running on the machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)  # equivalence tests compare to ~1e-10, not to float32 noise
    yield
    torch.set_default_dtype(torch.float32)


@pytest.fixture
def make_env():
    """``make_env(env_id, num_envs=3, **kwargs)``: a torch environment built by gymnasium on the CPU."""

    def make(env_id, num_envs=3, **kwargs):
        return gymnasium.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device="cpu", **kwargs
        )

    return make


@pytest.fixture
def random_actions():
    """``random_actions(env, rng)``: one uniformly drawn discrete action per sub-environment."""

    def draw(env, rng):
        n = env.single_action_space.n
        return torch.as_tensor(rng.integers(0, n, size=env.num_envs))

    return draw
