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
