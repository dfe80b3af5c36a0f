"""Test-wide settings."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Tiny fits are dominated by thread start-up and contention on a 2-core
    # machine: one thread is ~10x faster there and makes timings steadier.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
