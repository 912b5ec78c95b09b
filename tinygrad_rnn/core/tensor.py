"""Tensor: a numpy array, its gradient, and the Node that made it (None for a leaf)."""
import numbers
import weakref

import numpy as np

from . import anomaly, ops, tape
from .mode import current_scope, gc_paused, state
from .tape import Node

_default_dtype = np.dtype(np.float32)
_NUMPY1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"


def float_dtype(dtype, who):
    """np.dtype(dtype) if it is a float dtype, else a TypeError that names `who` asked."""
    try:
        known = np.dtype(dtype)
    except TypeError:
        known = None
    if known is None or known.kind != "f":
        raise TypeError(f"{who}: dtype must be a float dtype such as np.float32 or np.float64, "
                        f"got {known if known is not None else repr(dtype)}")
    return known


def set_default_dtype(dtype):
    """The float dtype given to Python numbers, lists and integer arrays (float32 unless changed)."""
    global _default_dtype
    _default_dtype = float_dtype(dtype, "set_default_dtype")


def get_default_dtype():
    return _default_dtype


class OpError(ValueError):
    """An op got inputs it cannot combine; the message names the op, the shapes and the scope."""


def _op_error(op, inputs, params, err):
    return _named_error(op.name, inputs, params, err)


def _named_error(name, inputs, params, err):
    """OpError "name(h(2, 3), dims=(0, 2)) in scope 't=7': err", for an op or a method that records one."""
    shapes = ", ".join(f"{t.name or 'x'}{t.shape}" if t.name else str(t.shape) for t in inputs)
    shown = {k: v for k, v in params.items() if k not in ("index", "contiguous_wt")}   # how, not what
    if "index" in params:
        shown["index"] = _short(params["index"])
    extra = "".join(f", {k}={v}" for k, v in shown.items())
    where = f" in scope '{current_scope()}'" if state.scope else ""
    return OpError(f"{name}({shapes}{extra}){where}: {err}")


def _short(index):
    text = repr(index)
    return text if len(text) < 60 else text[:57] + "..."


def apply(op, *inputs, **params):
    """Run op forward on the inputs' arrays; record a Node when grad is on and some input requires it."""
    try:                                                 # the common calls without building a list or a dict
        if len(inputs) == 2 and not params:
            out, saved = op.forward(inputs[0].data, inputs[1].data)
        elif len(inputs) == 1:
            out, saved = op.forward(inputs[0].data, **params) if params else op.forward(inputs[0].data)
        else:
            out, saved = op.forward(*[t.data for t in inputs], **params)
    except (ValueError, IndexError, TypeError) as err:
        raise _op_error(op, inputs, params, err) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)                            # numpy reductions return scalars; .data is an array
    if _NUMPY1:                                          # numpy 1 makes 0-d float32 (op) 1 float64: undo it
        want = np.result_type(*[t.dtype for t in inputs])
        if want.kind == "f":                             # (integer inputs: the op chose the float type)
            out = out.astype(want, copy=False)
    if state.anomaly:
        anomaly.check_forward(op, inputs, out)
    if state.grad_enabled:
        for t in inputs:
            if t.requires_grad:                          # record: per input, its producer (or the leaf itself)
                if len(inputs) == 1:                     # t is the input
                    args = (t if t._node is None else t._node,)
                elif len(inputs) == 2:
                    a, b = inputs
                    args = (a if a._node is None else a._node, b if b._node is None else b._node)
                else:
                    args = tuple([t if t._node is None else t._node for t in inputs])
                node = Node(op, args, saved, params or _NO_PARAMS)
                t = _result(out, node)
                node.dtype, node._out = out.dtype, _ref(t)
                if op not in ops.BUILT_IN:               # outside the table: the walk checks its gradients' shapes
                    node._inputs = inputs
                return t
    return _result(out, None)


_NO_PARAMS = {}     # shared by every node of an op without parameters (never written to)
_constants = {}     # (type, number, dtype) -> its constant tensor: the 1 of `1 - z` is made once, not per step


def _lift(value, like, opname):
    """A Python number or numpy array met in an expression becomes a constant tensor."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "fiu":   # a numpy scalar keeps its dtype, as in numpy
        return Tensor._result(np.asarray(value), None)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.generic)):
        key = (type(value), value, like.data.dtype)
        const = _constants.get(key)
        if const is None:
            # a Python number takes the tensor's dtype when that holds it (float32 * 2.0 stays float32), else
            # numpy's choice (int64 tensor * 0.5 is float64, not 0)
            data = np.asarray(value, dtype=np.result_type(like.data.dtype, value))
            data.flags.writeable = False                 # one array shared by every op that meets this number
            const = Tensor._result(data, None)
            if value and value == value and len(_constants) < 1024:   # not 0 (0.0 == -0.0), not NaN
                _constants[key] = const
        return const
    if isinstance(value, np.ndarray):                    # integers and booleans take a float tensor's dtype
        return Tensor(value, dtype=like.data.dtype if value.dtype.kind in "iub" and like.data.dtype.kind == "f"
                      else None)
    raise TypeError(f"{opname}: cannot combine a Tensor with {type(value).__name__}; "
                    "use a Tensor, a numpy array or a Python number")


class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "_name", "_node", "_retain", "_changed_at", "__weakref__")
    __array_ufunc__ = None     # numpy defers to our operators: np_array * tensor -> Tensor

    def __init__(self, data, requires_grad=False, name=None, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        given_array = isinstance(data, (np.ndarray, np.generic))
        try:
            array = np.array(data, dtype=dtype)
        except (ValueError, TypeError) as err:
            raise TypeError(f"Tensor: cannot make an array from {type(data).__name__}: {err}") from None
        if array.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: expected numbers, got an array of dtype {array.dtype}")
        if dtype is None and array.dtype.kind != "b" and (array.dtype.kind != "f" or not given_array):
            array = array.astype(_default_dtype)          # numbers, lists, int arrays -> default float;
                                                          # booleans stay boolean (a mask, as in torch)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"Tensor: requires_grad=True needs a float tensor, got dtype {array.dtype} "
                            "(only floating point values have gradients)")
        self.data, self.grad, self.requires_grad = array, None, bool(requires_grad)
        self._node, self._retain = None, False
        self.name = name

    @staticmethod
    def _result(data, node):
        """An op's output (or a constant): no checks, no copy. A plain function: every op makes one."""
        t = _new(Tensor)
        t.data, t.grad, t.requires_grad, t._name, t._node, t._retain = data, None, node is not None, None, node, False
        return t

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, name):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor: name must be a string (or None), got {type(name).__name__} {name!r}")
        self._name = name
        if self._node is not None:                       # the graph keeps the name after the tensor is gone
            self._node.name = name

    # ---- what it is -----------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    node = property(lambda self: self._node, doc="the Node that produced this tensor (None for a leaf)")
    is_leaf = property(lambda self: self._node is None)

    def __len__(self):
        return len(self.data)

    def __iter__(self):                                  # rows, as getitem nodes (stops at len, as numpy does)
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20, edgeitems=2,
                               prefix="Tensor(")
        extra = [f"name={self.name!r}"] if self.name else []
        if self._node is not None:
            extra.append(f"op={self._node.op.name}")
            if self._node.scope:
                extra.append(f"scope={self._node.scope_name!r}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.dtype != _default_dtype:
            extra.append(f"dtype={self.dtype}")
        return f"Tensor({body}{''.join(', ' + e for e in extra)})"

    def numpy(self):
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only a tensor with one element has an item, this one has shape {self.shape}")
        return self.data.item()

    def __float__(self):                                 # float(loss), as torch: one element only
        return float(self.item())

    def __format__(self, spec):                          # f"{loss:.3f}" formats a 0-d tensor's number, as torch
        return format(self.item(), spec) if self.ndim == 0 else object.__format__(self, spec)

    def detach(self):
        """The same values, cut from the graph (how truncated BPTT stops gradients)."""
        return Tensor._result(self.data, None)

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward (e.g. dE/ds_t for every time step)."""
        self._retain = True
        return self

    def backward(self, grad=None, retain_graph=False, keep_grads=False):
        """Backpropagate from this tensor: every leaf that requires grad accumulates its .grad.

        By default the walk is lean (nothing kept per edge: what a training loop wants). keep_grads=True keeps
        on every node the gradient that arrived (node.grad) and what it sent along each input (node.input_grads),
        which viz draws; retain_graph=True keeps the saved values so the graph can be walked again."""
        initial = tape.initial_grad(self, grad)
        if self._node is None:                           # a leaf: d self / d self, as in PyTorch
            self.grad = np.array(initial) if self.grad is None else np.asarray(self.grad + initial)
            return
        with gc_paused():                           # no cycles to find; a long tape is slow to scan
            for _ in tape.walk(self, initial, retain_graph, keep_grads, lean=not keep_grads):
                pass

    # ---- arithmetic (a Python number or array on either side; a Tensor goes straight to the op) --
    def __add__(self, other):
        return apply(ops.Add, self, other if type(other) is Tensor else _lift(other, self, "add"))
    def __radd__(self, other): return apply(ops.Add, _lift(other, self, "add"), self)
    def __sub__(self, other):
        return apply(ops.Sub, self, other if type(other) is Tensor else _lift(other, self, "sub"))
    def __rsub__(self, other): return apply(ops.Sub, _lift(other, self, "sub"), self)
    def __mul__(self, other):
        return apply(ops.Mul, self, other if type(other) is Tensor else _lift(other, self, "mul"))
    def __rmul__(self, other): return apply(ops.Mul, _lift(other, self, "mul"), self)
    def __truediv__(self, other):
        return apply(ops.Div, self, other if type(other) is Tensor else _lift(other, self, "div"))
    def __rtruediv__(self, other): return apply(ops.Div, _lift(other, self, "div"), self)
    def __pow__(self, other):
        return apply(ops.Pow, self, other if type(other) is Tensor else _lift(other, self, "pow"))
    def __rpow__(self, other): return apply(ops.Pow, _lift(other, self, "pow"), self)
    def __matmul__(self, other):
        return apply(ops.MatMul, self, other if type(other) is Tensor else _lift(other, self, "matmul"))
    def __rmatmul__(self, other): return apply(ops.MatMul, _lift(other, self, "matmul"), self)
    def __neg__(self): return apply(ops.Neg, self)

    # ---- elementwise functions ------------------------------------------------------------------
    def exp(self): return apply(ops.Exp, self)
    def log(self): return apply(ops.Log, self)
    def tanh(self): return apply(ops.Tanh, self)
    def sigmoid(self): return apply(ops.Sigmoid, self)
    def relu(self): return apply(ops.Relu, self)
    def softplus(self): return apply(ops.Softplus, self)
    def softmax(self, axis=-1): return apply(ops.Softmax, self, axis=axis)
    def log_softmax(self, axis=-1): return apply(ops.LogSoftmax, self, axis=axis)

    # ---- reductions -----------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False): return apply(ops.Sum, self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return apply(ops.Mean, self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return apply(ops.Max, self, axis=axis, keepdims=keepdims)

    # ---- shape ----------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply(ops.Reshape, self, shape=tuple(shape))

    def view(self, *shape):
        """torch's view: reshape (a numpy array is never in a layout that forbids it)."""
        return self.reshape(*shape)

    def transpose(self, *dims):
        """torch's transpose(dim0, dim1): those two dims swapped (negative dims count from the end). With no
        argument, every axis reversed, as .T. A reordering of all the axes is permute(*dims)."""
        if not dims:
            return apply(ops.Transpose, self, axes=None)
        if len(dims) != 2 or not all(_is_int(d) for d in dims):
            axes = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
            tip = f"; to reorder all the axes use permute{axes}" if len(axes) > 2 or axes is not dims else ""
            raise TypeError(f"transpose: expected two dims to swap, transpose(dim0, dim1) as in torch, or none to "
                            f"reverse every axis; got {_short(dims)} for shape {self.shape}{tip}")
        a, b = (_dim(self, d, "transpose", dims) for d in dims)
        axes = list(range(self.ndim))
        if axes:                                         # a 0-d tensor's only dim (0 or -1) is itself, as torch
            axes[a], axes[b] = b, a
        return apply(ops.Transpose, self, axes=tuple(axes))

    T = property(lambda self: self.transpose())

    def permute(self, *dims):
        """torch's permute: axis k of the result is axis dims[k] of this tensor (numpy's transpose(axes))."""
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if not all(_is_int(d) for d in dims):
            raise TypeError(f"permute: dims must be integers, got {_short(dims)}")
        if len(dims) != self.ndim:
            raise _named_error("permute", [self], {"dims": dims}, f"expected one dim per axis, {self.ndim}")
        axes = tuple(_dim(self, d, "permute", dims) for d in dims)
        if len(set(axes)) != len(axes):
            raise _named_error("permute", [self], {"dims": dims}, "a dim appears twice")
        return apply(ops.Transpose, self, axes=axes)

    def unsqueeze(self, dim):
        """A new axis of length 1 at position dim (in [-ndim-1, ndim], as torch), recorded as a reshape."""
        at = _dim(self, dim, "unsqueeze", dim, extra=1)
        return self.reshape(self.shape[:at] + (1,) + self.shape[at:])

    def squeeze(self, dim=None):
        """The axes of length 1 removed: all of them, or those among dim (an int or a tuple) as torch; an axis
        named in dim that is not of length 1 stays. Recorded as a reshape."""
        dims = range(self.ndim) if dim is None else dim if isinstance(dim, (tuple, list)) else (dim,)
        if not all(_is_int(d) for d in dims):
            raise TypeError(f"squeeze: dim must be an integer or a tuple of integers, got {_short(dim)}")
        gone = [_dim(self, d, "squeeze", dim) for d in dims]
        if len(set(gone)) != len(gone):
            raise _named_error("squeeze", [self], {"dim": dim}, "a dim appears twice")
        return self.reshape(tuple(n for k, n in enumerate(self.shape) if not (k in gone and n == 1)))

    def size(self, dim=None):
        """torch's size(): the shape (a tuple), or the length of axis dim (an int)."""
        if dim is not None and self.ndim == 0:
            raise _named_error("size", [self], {"dim": dim}, "a 0-d tensor has no dims; size() is its shape, ()")
        return self.shape if dim is None else self.shape[_dim(self, dim, "size", dim)]

    def __getitem__(self, index):
        return apply(ops.GetItem, self, index=_plain_index(index))

    def split(self, split_size_or_sections, axis=0):
        """Pieces along axis, as torch.split: an int is the size of each piece, a list the sizes."""
        n = self.shape[_check_axis(self, axis, "split")]
        sizes = split_size_or_sections
        if not isinstance(sizes, numbers.Integral) and not (
                isinstance(sizes, (list, tuple, np.ndarray)) and all(isinstance(k, numbers.Integral) and k >= 0 for k in sizes)):
            raise TypeError(f"split: expected a piece size (int) or a list of sizes (ints >= 0), got {sizes!r}")
        if isinstance(sizes, numbers.Integral):
            if sizes <= 0:
                raise ValueError(f"split: piece size must be positive, got {sizes}")
            sizes = [min(sizes, n - start) for start in range(0, n, sizes)] or [0]   # an empty axis: one piece
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {list(sizes)} do not add up to {n}, the length of axis {axis} "
                             f"of shape {self.shape}")
        lead = (slice(None),) * (axis % self.ndim)
        starts = np.cumsum([0, *sizes])
        return [self[lead + (slice(int(a), int(b)),)] for a, b in zip(starts[:-1], starts[1:])]

    def chunk(self, chunks, axis=0):
        """`chunks` pieces of equal size (the last may be smaller), as torch.chunk."""
        if not isinstance(chunks, numbers.Integral) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive integer, got {chunks!r}")
        return self.split(max(1, -(-self.shape[_check_axis(self, axis, "chunk")] // chunks)), axis)


def _is_int(d):
    return isinstance(d, numbers.Integral) and not isinstance(d, bool)


def _dim(t, d, method, given, extra=0):
    """Dim d of t as an index in [0, ndim + extra); negative d counts from the end, as in torch (a 0-d tensor
    takes dim 0 or -1, as one of one axis)."""
    if not _is_int(d):
        raise TypeError(f"{method}: dim must be an integer, got {_short(d)}")
    n = max(t.ndim + extra, 1)
    if not -n <= d < n:
        raise _named_error(method, [t], {"dims" if isinstance(given, tuple) else "dim": given},
                           f"dim {d} is out of range: expected an integer in [{-n}, {n - 1}]")
    return int(d) % n


def _check_axis(t, axis, owner):
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -t.ndim <= axis < t.ndim:
        raise ValueError(f"{owner}: axis must be an integer in [-{t.ndim}, {t.ndim}) for shape {t.shape}, "
                         f"got {axis!r}")
    return axis


_new = object.__new__
_result = Tensor._result
_ref = weakref.ref


def _plain_index(index):
    """Tensors used as indices become integer arrays (they carry no gradient); arrays are copied, so that
    changing the caller's index array after the forward cannot change where the backward scatters."""
    if isinstance(index, Tensor):
        if index.dtype.kind != "f":
            return index.data.copy()
        if not np.array_equal(index.data, np.round(index.data)):   # Tensor([0, 2]) is float32: fine; 0.7 is not
            raise TypeError(f"getitem: an index tensor must hold whole numbers (or booleans), got {index.data!r:.60}")
        return index.data.astype(np.intp)
    if isinstance(index, tuple):
        for i in index:                                  # slices and integers (x[..., 0:H]) pass as they are
            if type(i) not in ops.PLAIN_INDEX_TYPES and isinstance(i, (Tensor, tuple, list, np.ndarray)):
                return tuple(_plain_index(i) for i in index)
        return index
    if isinstance(index, (list, np.ndarray)):
        array = np.array(index)
        return array.astype(np.intp) if array.size == 0 and array.dtype.kind == "f" else array   # x[[]]
    return index
