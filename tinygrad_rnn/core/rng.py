"""Reproducible randomness: one generator for parameter init and data generation.

`manual_seed(n)` makes everything after it repeat exactly: module init, the tasks' data, sampling.
Like PyTorch, the generator starts from a fixed seed, so a fresh process is already reproducible.
"""
import numbers

import numpy as np

_DEFAULT_SEED = 0
_seed = _DEFAULT_SEED
_generator = np.random.default_rng(_DEFAULT_SEED)


def manual_seed(seed):
    """Reseed the shared generator; returns it."""
    global _seed, _generator
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _seed, _generator = int(seed), np.random.default_rng(int(seed))
    return _generator


def initial_seed():
    """The seed the shared generator was last started from."""
    return _seed


def generator():
    """The shared numpy Generator (use it for anything that should follow manual_seed)."""
    return _generator
