import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)  # equivalence tests compare to ~1e-10, not to float32 noise
    yield
    torch.set_default_dtype(torch.float32)
