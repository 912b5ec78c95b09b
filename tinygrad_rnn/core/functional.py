"""Functions of several tensors and the losses, written with the primitive ops."""
import numpy as np

from . import ops
from .tensor import Tensor, _op_error, apply


def _tensors(tensors, fname):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{fname}: needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fname}: item {i} is a {type(t).__name__}, expected a Tensor")
    return tensors


def concat(tensors, axis=0):
    """Join tensors along an existing axis (torch.cat)."""
    return apply(ops.Concat, *_tensors(tensors, "concat"), axis=axis)


def stack(tensors, axis=0):
    """Join tensors along a new axis (torch.stack)."""
    return apply(ops.Stack, *_tensors(tensors, "stack"), axis=axis)


def linear(x, weight, bias=None, add=None):
    """x W^T + b as one op (torch.nn.functional.linear): x (..., in), weight (out, in), bias (out,) or None.
    add (of the output's shape): x W^T + b + add, still one op (torch.addmm), when there is a bias.

    The weight is an input of the op itself, not of a transpose made once: a weight applied at every time
    step has one edge per step, each carrying that step's contribution to weight.grad."""
    args = [_operand(x, "x"), _operand(weight, "weight")] + ([] if bias is None else [_operand(bias, "bias")])
    how = _CONTIGUOUS if ops._transposed[0] is args[1].data else {}   # inside ops.transposed_once(weight)
    if add is None:
        return apply(ops.Linear, *args, **how)
    add = _operand(add, "add")
    if bias is not None:
        return apply(ops.Linear, *args, add, **how)
    y = apply(ops.Linear, *args, **how)                  # the op's fourth input comes after a bias: add after it,
    if add.shape != y.shape:                             # with the op's own rule that add has y's shape
        raise _op_error(ops.Linear, (*args, add), {}, ValueError(
            f"the added term must have the output's shape {y.shape}, got {add.shape}"))
    return add + y


_CONTIGUOUS = {"contiguous_wt": True}


def _operand(t, what):
    if isinstance(t, Tensor):
        return t
    if isinstance(t, np.ndarray):
        return Tensor(t)
    raise TypeError(f"linear: {what} must be a Tensor or a numpy array, got {type(t).__name__}")


def softmax(x, axis=-1):
    return x.softmax(axis)


def log_softmax(x, axis=-1):
    return x.log_softmax(axis)


def cross_entropy(logits, targets):
    """Mean over rows of -log softmax(logits)[row, target]; targets are integer class indices."""
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be a 2-D Tensor (rows, classes), got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}")
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    rows, classes = logits.shape
    if targets.shape != (rows,) or targets.dtype.kind not in "iu" and not (
            targets.dtype.kind == "f" and np.all(targets == np.round(targets))):
        raise ValueError(f"cross_entropy: targets must be {rows} integer class indices (shape ({rows},)), "
                         f"got shape {targets.shape} dtype {targets.dtype}")
    targets = targets.astype(np.intp)
    if rows and (targets.min() < 0 or targets.max() >= classes):
        raise ValueError(f"cross_entropy: targets must lie in [0, {classes}), got values from "
                         f"{targets.min()} to {targets.max()}")
    return -logits.log_softmax(axis=-1)[np.arange(rows), targets].mean()


def mse_loss(pred, target):
    """Mean of (pred - target)^2; both must have the same shape."""
    if not isinstance(pred, Tensor):
        raise TypeError(f"mse_loss: pred must be a Tensor, got {type(pred).__name__}")
    if not isinstance(target, Tensor):
        target = np.asarray(target)
        if target.dtype.kind not in "fiu":
            raise TypeError(f"mse_loss: target must be a Tensor or an array of numbers, got dtype {target.dtype}")
    target_shape = np.shape(target.data if isinstance(target, Tensor) else target)
    if pred.shape != target_shape:
        raise ValueError(f"mse_loss: pred has shape {pred.shape} but target has shape {target_shape}")
    return ((pred - target) ** 2).mean()
