"""The switches every op reads: is grad recording on, which scope are we in, is anomaly checking on.

The bottom of the core (as PyTorch keeps its grad mode below the engine). Each thread has its own switches,
as in PyTorch: a thread evaluating under `no_grad()` does not stop another thread's training from recording.
"""
import contextlib
import gc
import threading

import numpy as np


class _State(threading.local):
    grad_enabled = True
    scope = ()          # the current scope as a tuple of names, e.g. ("lstm", "layer0", "t=3")
    anomaly = False     # detect_anomaly() is on
    transposed = (None, None)   # (W, a C-contiguous copy of W^T) inside ops.transposed_once(W)
    quiet_overflow = False      # inside ops.exp_overflow_quiet(): numpy reports no overflow


state = _State()
MAX_SCOPE_DEPTH = 1000


@contextlib.contextmanager
def no_grad():
    """Record nothing inside (usable as a decorator too): for evaluation and optimiser steps."""
    before, state.grad_enabled = state.grad_enabled, False
    try:
        yield
    finally:
        state.grad_enabled = before


def is_grad_enabled():
    return state.grad_enabled


class scope(contextlib.ContextDecorator):
    """Tag every node recorded inside with `name` (nestable; "a/b" pushes two levels).

    A class, not a generator function: recurrent layers enter one per gate per time step."""

    def __init__(self, name):
        if type(name) is str and name and "/" not in name:   # one level, the common case: no splitting
            self.parts = (name,)
            return
        if not isinstance(name, str) or not name.strip("/"):
            raise ValueError(f"scope name must be a non-empty string, got {name!r}")
        self.parts = tuple(p for p in name.split("/") if p)

    def __enter__(self):
        self.before = state.scope
        if len(self.before) + len(self.parts) > MAX_SCOPE_DEPTH:   # each level holds its whole path
            raise ValueError(f"scope {'/'.join(self.parts)[:40]!r}: scopes nest at most {MAX_SCOPE_DEPTH} levels "
                             f"deep, this would be {len(self.before) + len(self.parts)}")
        state.scope = self.before + self.parts

    def __exit__(self, *exc):
        state.scope = self.before

    def _recreate_cm(self):                              # as a decorator: a fresh one per call
        return scope("/".join(self.parts))


def current_scope():
    return "/".join(state.scope)


_time_steps = {}


def time_step(scope):
    """(k, position) of the first `t=<k>` part of a scope tuple, or None: the one reading of time steps
    (('lstm', 'layer0', 't=3', 'cell') -> (3, 2)). Scope tuples repeat a lot, so the answers are cached."""
    got = _time_steps.get(scope, False)
    if got is False:
        got = None
        for i, part in enumerate(scope):
            if part.startswith("t=") and part[2:].isascii() and part[2:].isdigit():
                got = (int(part[2:]), i)
                break
        if len(_time_steps) < 65536:
            _time_steps[scope] = got
    return got


@contextlib.contextmanager
def detect_anomaly(enabled=True):
    """Check every forward output and backward gradient for NaN/Inf while inside (slower); the first one
    found is an AnomalyError that names the op and its scope (see anomaly.py).

    detect_anomaly(False) turns checking off inside an outer detect_anomaly()."""
    before, state.anomaly = state.anomaly, bool(enabled)
    try:
        with np.errstate(all="ignore"):          # we report the problem ourselves, with its place
            yield
    finally:
        state.anomaly = before


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a long graph is recorded, walked or read.

    The tape makes no reference cycles (reference counting frees a graph as soon as its root is dropped), but
    each automatic collection of the oldest generation visits every Node and Tensor recorded so far: on a
    100,000-step unroll those visits took half the forward and the backward time. Nesting is fine; a collector
    that was already off stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
