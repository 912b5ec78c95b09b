"""Functions of several tensors and the losses, written with the primitive ops."""
import numbers

import numpy as np

from . import ops
from .mode import state
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
    how = _CONTIGUOUS if state.transposed[0] is args[1].data else {}   # inside ops.transposed_once(weight)
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


_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, fname):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def cross_entropy(logits, targets, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy with class-index targets: -log softmax(logits)[target] per position.

    logits: (N, C), (C,) or (N, C, d1, ...) with the classes on axis 1 (e.g. (N, C, T) for a sequence);
    targets: integer indices of shape (N,), () or (N, d1, ...). Positions whose target is ignore_index add
    nothing, and 'mean' divides by the number of the others. label_smoothing = e mixes in the uniform
    distribution: loss = (1 - e) * (-log p[target]) + e / C * sum over classes of (-log p[c]).
    reduction 'none' returns the per-position losses (0 where ignored) in the targets' shape."""
    rows, targets = _class_rows(logits, targets)
    reduction = check_reduction(reduction, "cross_entropy")
    if not isinstance(label_smoothing, numbers.Real) or isinstance(label_smoothing, bool):
        raise TypeError(f"cross_entropy: label_smoothing must be a number, got {type(label_smoothing).__name__} "
                        f"{label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0.0, 1.0], got {label_smoothing}")
    classes = rows.shape[-1]
    keep = targets != ignore_index
    _check_classes(targets[keep], classes)
    lsm = rows.log_softmax(axis=-1)
    if keep.all() and not label_smoothing and reduction == "mean":
        return -lsm[np.arange(len(targets)), targets].mean()             # the plain case: one getitem, one mean
    per = -lsm[np.arange(len(targets)), np.where(keep, targets, 0)]
    if label_smoothing:
        per = (1.0 - label_smoothing) * per - (label_smoothing / classes) * lsm.sum(axis=-1)
    if not keep.all():
        per = per * keep.astype(per.dtype)                                # an ignored position adds 0
    if reduction == "none":
        return per.reshape(*targets_shape(logits))
    total = per.sum()
    if reduction == "sum":
        return total
    if not keep.any():                                   # torch: the mean of nothing is nan, its gradient 0
        return total + Tensor(np.array(np.nan, dtype=total.dtype))
    return total / float(keep.sum())                     # torch's mean over the kept positions


def targets_shape(logits):
    """The shape class-index targets have for these logits: the logits' without the class axis."""
    return logits.shape[:1] + logits.shape[2:] if logits.ndim >= 2 else ()


def _class_rows(logits, targets):
    """(logits as rows (M, C), targets as M integer indices) for logits (N, C), (C,) or (N, C, d1, ...)."""
    if not isinstance(logits, Tensor) or logits.ndim < 1:
        raise ValueError(f"cross_entropy: logits must be a Tensor of shape (N, C), (C,) or (N, C, d1, ...), got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}")
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    expected = targets_shape(logits)
    if targets.shape != expected or targets.dtype.kind not in "iu" and not (
            targets.dtype.kind == "f" and np.all(targets == np.round(targets))):
        raise ValueError(f"cross_entropy: targets must be integer class indices of shape {expected} for logits "
                         f"of shape {logits.shape} (classes on axis 1), got shape {targets.shape} dtype {targets.dtype}")
    classes = logits.shape[1] if logits.ndim >= 2 else logits.shape[0]
    if logits.ndim == 2:
        rows = logits
    elif logits.ndim == 1:
        rows = logits.reshape(1, classes)
    else:                                                # (N, C, d1, ...) -> (N, d1, ..., C) -> rows
        rows = logits.permute(0, *range(2, logits.ndim), 1).reshape(-1, classes)
    return rows, targets.astype(np.intp).reshape(-1)


def _check_classes(targets, classes):
    if targets.size and (targets.min() < 0 or targets.max() >= classes):
        raise ValueError(f"cross_entropy: targets must lie in [0, {classes}) or equal ignore_index, got values "
                         f"from {targets.min()} to {targets.max()}")


def mse_loss(pred, target, reduction="mean"):
    """(pred - target)^2, averaged ('mean'), summed ('sum') or per element ('none'); same shapes only."""
    if not isinstance(pred, Tensor):
        raise TypeError(f"mse_loss: pred must be a Tensor, got {type(pred).__name__}")
    reduction = check_reduction(reduction, "mse_loss")
    if not isinstance(target, Tensor):
        target = np.asarray(target)
        if target.dtype.kind not in "fiu":
            raise TypeError(f"mse_loss: target must be a Tensor or an array of numbers, got dtype {target.dtype}")
    target_shape = np.shape(target.data if isinstance(target, Tensor) else target)
    if pred.shape != target_shape:
        raise ValueError(f"mse_loss: pred has shape {pred.shape} but target has shape {target_shape}")
    squares = (pred - target) ** 2
    return squares.mean() if reduction == "mean" else squares.sum() if reduction == "sum" else squares
