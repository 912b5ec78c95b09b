"""The checks behind detect_anomaly (switched on in mode.py): stop at the first op whose output or gradient holds NaN or Inf, and say where.

    with tinygrad_rnn.detect_anomaly():        # also usable as a decorator: @detect_anomaly()
        loss = model(x)                        # every forward output is checked ...
        loss.backward()                        # ... and every gradient the walk computes or sums

The error names the op, its scope (`lstm/layer0/t=37/cell`), the name of its result and the ranges of its
inputs, with a hint at the usual cause. numpy's own RuntimeWarnings (divide by zero, overflow, invalid value)
are silenced inside: the AnomalyError says the same thing, and where.
"""
import numpy as np

from .mode import state


class AnomalyError(FloatingPointError):
    """A NaN or Inf appeared; the message names the op, its scope and its inputs' ranges."""


_OVERFLOW = ("values beyond the range of {dtype} (largest {max:.3g}): exploding activations or gradients -- "
             "clip gradients (clip_grad_norm), lower the learning rate, or start from smaller weights")
HINTS = {
    "log": "log(0) = -inf and log(x < 0) = nan: keep the argument positive (add a small epsilon), "
           "or use log_softmax / cross_entropy instead of log(softmax(x))",
    "div": "division by zero (or 0/0, inf/inf): keep the denominator away from 0, e.g. x / (y + eps)",
    "exp": "exp overflows above about 88 in float32 and 709 in float64: subtract the max first "
           "(softmax and log_softmax do), or use softplus / sigmoid",
    "pow": "a negative base with a fractional exponent is nan, 0 to a negative power is inf; "
           "the gradient of x ** 0.5 at 0 is inf",
}


def _range(array):
    array = np.asarray(array)
    if array.size == 0:
        return f"shape {array.shape}, empty"
    if array.dtype.kind not in "fc":
        return f"shape {array.shape}, range [{array.min()}, {array.max()}]"
    finite = array[np.isfinite(array)]
    span = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite values"
    bad = [f"{n} {what}" for n, what in ((int(np.isnan(array).sum()), "nan"),
                                         (int(np.isposinf(array).sum()), "+inf"),
                                         (int(np.isneginf(array).sum()), "-inf")) if n]
    return f"shape {array.shape}, range {span}" + (f", {', '.join(bad)}" if bad else "")


def _where(scope):
    return f" in scope '{'/'.join(scope)}'" if scope else ""


def _inputs(tensors):
    return "; ".join(f"input {i}{' (' + t.name + ')' if t.name else ''}: {_range(t.data)}"
                     for i, t in enumerate(tensors))


def _hint(opname, arrays, inputs):
    """The usual cause: the op's own hint, or overflow when the inputs were finite and the result is inf."""
    finite_in = all(np.isfinite(t.data).all() for t in inputs if t.data.dtype.kind == "f")
    if opname in HINTS and not (opname == "pow" and finite_in and not np.isnan(arrays[0]).any()
                                and not (inputs[0].data == 0).any()):
        return HINTS[opname]                             # (x ** 2 of a huge x is an overflow, said below)
    if finite_in and any(np.isinf(a).any() for a in arrays):
        dtype = np.result_type(*arrays)
        return _OVERFLOW.format(dtype=dtype, max=float(np.finfo(dtype).max))
    if not finite_in:
        return "an input already held NaN/Inf (a leaf, or a value computed with checking off)"
    return ""


def _finite(array):
    return array.dtype.kind not in "fc" or bool(np.isfinite(array).all())


def check_forward(op, inputs, out):
    """Called by tensor.apply after every op while detect_anomaly() is on."""
    if _finite(out):
        return
    hint = _hint(op.name, [out], inputs)
    raise AnomalyError(f"forward of {op.name}{_where(state.scope)} produced NaN/Inf ({_range(out)}). "
                       f"Inputs: {_inputs(inputs)}" + (f". Hint: {hint}" if hint else ""))


def _node_text(node, out):
    named = f" -> {out.name}" if out is not None and out.name else ""
    return f"{node.op.name} (node #{node.index}{named}){_where(node.scope)}"


def check_backward(node, grads, upstream=None, out=None, is_root=False):
    """Called by tape.walk for every node while detect_anomaly() is on: the gradient that arrived at the
    node's output (the sum over its uses, which can overflow by itself) and what its vjp sent on."""
    if upstream is not None and not _finite(upstream):
        if is_root:
            raise AnomalyError(f"backward: the gradient passed to backward() for the output of "
                               f"{_node_text(node, out)} holds NaN/Inf ({_range(upstream)})")
        raise AnomalyError(f"backward: the gradient arriving at the output of {_node_text(node, out)} holds NaN/Inf "
                           f"({_range(upstream)}): the sum of the contributions from its uses overflowed "
                           f"(every single contribution was finite). Inputs: {_inputs(node.inputs)}. "
                           f"Hint: {_OVERFLOW.format(dtype=upstream.dtype, max=float(np.finfo(upstream.dtype).max))}")
    for i, g in enumerate(grads):
        if g is not None and not _finite(g):
            hint = HINTS.get(node.op.name) or (_OVERFLOW.format(dtype=g.dtype, max=float(np.finfo(g.dtype).max))
                                               if upstream is None or _finite(upstream) else "")
            raise AnomalyError(f"backward of {_node_text(node, out)} sent NaN/Inf to input {i} ({_range(g)}). "
                               f"Upstream gradient: {_range(upstream) if upstream is not None else 'not given'}. "
                               f"Inputs: {_inputs(node.inputs)}" + (f". Hint: {hint}" if hint else ""))


def check_leaves(leaves):
    """After the walk: a leaf's .grad is the sum of one contribution per use, and that sum can overflow."""
    for t in leaves:
        if t.grad is not None and not _finite(t.grad):
            label = f"leaf {t.name!r}" if t.name else f"a leaf of shape {t.shape}"
            raise AnomalyError(f"backward: the .grad of {label} holds NaN/Inf ({_range(t.grad)}) after "
                               "summing the contributions of its uses (each one was finite). Hint: "
                               + _OVERFLOW.format(dtype=t.grad.dtype, max=float(np.finfo(t.grad.dtype).max)))
