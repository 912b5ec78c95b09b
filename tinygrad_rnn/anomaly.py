"""detect_anomaly: stop at the first op whose output or gradient holds NaN or Inf, and say where."""
import contextlib

import numpy as np

from .tape import state


class AnomalyError(FloatingPointError):
    """A NaN or Inf appeared; the message names the op, its scope and its inputs' ranges."""


@contextlib.contextmanager
def detect_anomaly():
    """Check every forward output and backward gradient for NaN/Inf while inside (slower)."""
    before, state.anomaly = state.anomaly, True
    try:
        with np.errstate(all="ignore"):          # we report the problem ourselves, with its place
            yield
    finally:
        state.anomaly = before


def _range(array):
    finite = array[np.isfinite(array)]
    span = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite values"
    bad = array.size - finite.size
    return f"shape {array.shape}, range {span}" + (f", {bad} non-finite" if bad else "")


def _where(scope):
    return f" in scope '{'/'.join(scope)}'" if scope else ""


def check_forward(op, inputs, out):
    if np.isfinite(out).all():
        return
    from .tape import state as s
    described = "; ".join(f"input {i}{' (' + t.name + ')' if t.name else ''}: {_range(t.data)}"
                          for i, t in enumerate(inputs))
    raise AnomalyError(f"forward of {op.name}{_where(s.scope)} produced NaN/Inf ({_range(out)}). "
                       f"Inputs: {described}")


def check_backward(node, grads):
    for i, g in enumerate(grads):
        if g is not None and not np.isfinite(g).all():
            described = "; ".join(f"input {k}: {_range(t.data)}" for k, t in enumerate(node.inputs))
            raise AnomalyError(f"backward of {node.op.name} (node #{node.index}){_where(node.scope)} sent "
                               f"NaN/Inf to input {i} ({_range(g)}). Inputs: {described}")
