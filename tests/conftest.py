"""Shared fixtures. torch and the browser are optional for a user's run, required in CI."""
import importlib
import os

import numpy as np
import pytest


def _optional(module, env_var, why):
    """Import `module`, or skip — unless env_var is set (CI), where its absence is a failure."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if os.environ.get(env_var):
            pytest.fail(f"{module} is required here ({env_var} is set) but cannot be imported: {err}")
        pytest.skip(f"{module} not installed: {why}")


@pytest.fixture
def torch():
    """PyTorch for parity tests (CI installs torch==2.13.0 and sets TINYGRAD_RNN_REQUIRE_TORCH=1)."""
    torch = _optional("torch", "TINYGRAD_RNN_REQUIRE_TORCH", "PyTorch parity tests skipped")
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture
def rng():
    return np.random.default_rng(0)
