"""Modules: objects that own Parameters, with PyTorch's names (parameters, state_dict, zero_grad, ...), and
the loss modules. Beside this file, as in torch: `nn.functional` and `nn.utils` (clipping, `nn.utils.rnn`).

A Parameter is a leaf Tensor with requires_grad=True. A Module finds its parameters by looking at its
attributes (Parameters, sub-Modules, plain lists/tuples/dicts of those, ModuleList and friends) in the order
they were assigned, and names them with dotted paths as PyTorch does ("rnn.weight_ih_l0"). The same path becomes the Parameter's `.name`, so
diagrams label the weight by the name a user would type.
"""
import math
import numbers
import os
import stat
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from ..core import rng, tape
from ..core.functional import check_reduction, cross_entropy, linear, mse_loss
from ..core.tensor import Tensor, get_default_dtype
from ..core.tensor import float_dtype as _float_dtype
from ..files import as_path, replacing
from ..optim import zero_grads

__all__ = ["Parameter", "Module", "Linear", "Embedding", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", "IncompatibleKeys", "CrossEntropyLoss", "MSELoss", "check_size"]


class Parameter(Tensor):
    """A Tensor a Module learns: a leaf with requires_grad=True, named after the attribute holding it."""
    __slots__ = ()

    def __init__(self, data, name=None, dtype=None):
        super().__init__(data, requires_grad=True, name=name, dtype=dtype)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


def check_size(value, what, owner, minimum=1):
    """A positive integer argument, or a clear error naming it."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{owner}: {what} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {what} must be at least {minimum}, got {value}")
    return int(value)


def float_dtype(dtype):
    """The dtype a module's parameters get: `dtype` if it is a float dtype, the default one for None."""
    return get_default_dtype() if dtype is None else _float_dtype(dtype, "parameters")


def uniform_parameter(shape, bound, dtype=None):
    """PyTorch's default init for linear and recurrent weights: U(-bound, bound)."""
    data = rng.generator().uniform(-bound, bound, size=shape)
    return Parameter(data.astype(float_dtype(dtype)))


class Module:
    """Base class: subclasses assign Parameters and Modules as attributes and define forward().

    `training` (True until eval() is called) tells layers with train-only behaviour (dropout) which mode to
    run in; train(mode) and eval() set it on the module and every module inside it, as in PyTorch.
    """
    training = True

    def __setattr__(self, key, value):
        object.__setattr__(self, key, value)
        for path, p in _members(key, value, ""):
            if not isinstance(value, Parameter) or p.name is None:
                p.name = path                       # a child's parameters take their path as their name

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # ---- train / eval mode ------------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this module and every module inside it (eval mode for mode=False). Returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"{type(self).__name__}.train: mode must be a bool, got {type(mode).__name__} {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode (train(False)): dropout passes its input through unchanged. Returns self."""
        return self.train(False)

    def modules(self):
        """This module and every module inside it (attributes, lists, tuples, dicts), each once, parents first."""
        seen, found, stack = set(), [], [self]
        while stack:                                    # an explicit stack: no recursion over deep nestings
            module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            found.append(module)
            stack.extend(reversed(_child_modules(vars(module).values())))
        return found

    # ---- parameters -----------------------------------------------------------------------------
    def named_parameters(self, prefix="", remove_duplicate=True):
        """(dotted name, Parameter) pairs in the order they were assigned; a shared one (a tied weight) appears
        once, or under each of its names with remove_duplicate=False, as in torch."""
        seen, out = set(), []
        for name, p in self._walk(prefix):
            if not remove_duplicate or id(p) not in seen:
                seen.add(id(p))
                out.append((name, p))
        return out

    def _walk(self, prefix):
        for key, value in vars(self).items():
            yield from _members(key, value, prefix)

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient: None (PyTorch's default), or zeroed in place with set_to_none=False."""
        zero_grads(self.parameters(), set_to_none)

    # ---- saving and loading ---------------------------------------------------------------------
    def state_dict(self):
        """{dotted name: copy of the parameter's array}; a shared parameter under each of its names, as torch's."""
        return {name: p.data.copy() for name, p in self.named_parameters(remove_duplicate=False)}

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the parameters. All or nothing: any problem raises before anything changes.

        Mis-shaped arrays are always an error; with strict=True so are missing and unexpected keys.
        Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state, "keys"):
            raise TypeError(f"load_state_dict: expected a dict of name -> array, got {type(state).__name__}")
        own = dict(self.named_parameters(remove_duplicate=False))
        given = {id(p) for k, p in own.items() if k in state}    # a shared parameter given under one of its
        missing = [k for k, p in own.items() if id(p) not in given]   # names is not missing under the others
        unexpected = [k for k in state if k not in own]
        arrays, problems = {}, []
        for key, p in own.items():
            if key not in state:
                continue
            array = _as_array(state[key])
            if isinstance(array, Exception):
                problems.append(f"  {key}: cannot be read as an array of numbers: {type(array).__name__}: {array}")
            elif array.dtype.kind not in "fiu":
                problems.append(f"  {key}: expected numbers, got dtype {array.dtype}")
            elif array.shape != p.shape:
                problems.append(f"  {key}: expected shape {p.shape}, got {array.shape}")
            else:
                arrays[key] = array
        if strict:
            problems += [f"  missing key: {k}" for k in missing] + [f"  unexpected key: {k}" for k in unexpected]
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: nothing was loaded because of\n"
                             + "\n".join(problems))
        for key, array in arrays.items():
            own[key].data = np.array(array, dtype=own[key].dtype)
            tape.changed(own[key])
        return IncompatibleKeys(missing, unexpected)

    def save(self, path):
        """Write state_dict() to `path` as an .npz archive of plain arrays (no pickle), atomically: an
        interrupted save leaves the file that was there (see files.py)."""
        with replacing(path, "save") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            for key, array in self.state_dict().items():
                with archive.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)

    def load(self, path, strict=True):
        """Load parameters saved by save(). A file that is corrupt, truncated or not ours raises ValueError
        (nothing is ever unpickled) and leaves the parameters as they were. Returns self."""
        path = as_path(path, "load")
        state = read_npz(path, {name: p.shape for name, p in self.named_parameters(remove_duplicate=False)})
        try:
            self.load_state_dict(state, strict=strict)
        except ValueError as err:
            raise ValueError(f"load: {path}: {err}") from None
        return self

    # ---- display --------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def _children(self):
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Module)]

    def __repr__(self):
        children = [f"  ({k}): " + repr(v).replace("\n", "\n  ") for k, v in self._children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(children) + "\n)" if children else ")")


def _as_array(value):
    """A state_dict value as a numpy array, or the exception that says why it is not one. Another framework's
    tensor that records gradients (torch's model.named_parameters()) is read through its .detach()."""
    if isinstance(value, Tensor):
        return value.data
    try:
        if callable(getattr(value, "detach", None)):
            value = value.detach()
        return np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as err:
        return err


_NPY_MAGIC = b"\x93NUMPY"


_HEADER_ROOM = 1 << 16    # bytes a member may hold beyond its array: the .npy header (numpy writes < 4 KiB)
_LARGEST_ITEM = 8         # bytes per number: float64 / int64 at most
_STREAMED = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}   # inflated in bounded pieces


def read_npz(path, expected=None):
    """{name: array} from an .npz archive of plain .npy arrays, read with the zip and .npy readers only: a
    pickle, an object array, a truncated, corrupt or encrypted archive or a foreign member is a ValueError
    naming the file and the member; nothing is ever unpickled.

    Bounded by the model, not by the file: `expected` ({name: shape}, the model's parameters) is checked
    against the zip directory's sizes and each .npy header before a member is inflated, and a member the
    model has no place for is listed (as None) without being read. Only stored and deflated members are
    read (what np.savez and np.savez_compressed write): zipfile inflates those in pieces of the size asked
    for, but a bzip2 or lzma member in one piece of any size. (np.load would inflate every member whole
    before anything could be checked, hence this reader.)"""
    bad = f"load: {path} is not an .npz archive of parameters written by save(): "
    with _open_regular_file(path) as f:
        head = f.read(6)
        if not head.startswith(b"PK"):
            what = ("it is a single .npy array" if head == _NPY_MAGIC else
                    "it is a pickle, which load() never unpickles" if head[:1] == b"\x80" else
                    "it is empty" if not head else "it is not a zip archive (an .npz file starts with 'PK')")
            raise ValueError(bad + what)
        try:
            with zipfile.ZipFile(f) as archive:
                return {_member_key(info): _read_member(archive, info, expected) for info in archive.infolist()}
        except zipfile.BadZipFile as err:
            raise ValueError(bad + f"the zip archive is truncated or corrupt ({err})") from None
        except (ValueError, EOFError, zlib.error, NotImplementedError) as err:
            raise ValueError(bad + str(err)) from None


def _open_regular_file(path):
    """`path` opened for reading, when it is a regular file; a FIFO, device or folder is a ValueError
    (opened without waiting: a FIFO with no writer would block open() forever)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"load: {path} is not a regular file (a FIFO, device or folder); load reads .npz files")
    return os.fdopen(fd, "rb")


def _member_key(info):
    """The parameter name of a member `name.npy`, after checking it is one we can read."""
    name = info.filename
    if not name.endswith(".npy") or info.is_dir():
        raise ValueError(f"member {name!r} is not a .npy array")
    if info.flag_bits & 0x1:
        raise ValueError(f"member {name!r} is encrypted; load reads unencrypted archives")
    if info.compress_type not in _STREAMED:
        raise ValueError(f"member {name!r} is compressed with method {info.compress_type}; load reads "
                         "stored or deflated members (as np.savez and np.savez_compressed write them)")
    return name[:-4]


def _read_member(archive, info, expected):
    """The member's array; None when the model has no parameter of its name (then it is never inflated)."""
    key = info.filename[:-4]
    if expected is not None and key not in expected:
        return None
    shape = None if expected is None else expected[key]
    if shape is not None:
        limit = _HEADER_ROOM + math.prod(shape) * _LARGEST_ITEM
        if info.file_size > limit:
            raise ValueError(f"member {info.filename!r} holds {info.file_size} bytes, more than the model's "
                             f"{key} of shape {shape} can use ({limit} at most)")
    with archive.open(info) as f:
        return _read_npy(f, info, shape)


def _read_npy(f, info, want=None):
    """One .npy member: its header read and checked (against the model's shape `want`, when given) before
    its data is read."""
    name = info.filename
    if f.read(6) != _NPY_MAGIC:
        raise ValueError(f"member {name!r} is not a .npy array (no NUMPY header)")
    version = tuple(f.read(2))
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"member {name!r} has an unknown .npy version {version}")
    if dtype.hasobject:
        raise ValueError(f"member {name!r} holds Python objects (pickled data), which load() never unpickles")
    if dtype.kind not in "fiub" or dtype.itemsize > _LARGEST_ITEM:
        raise ValueError(f"member {name!r} holds {dtype} values; load reads numbers (at most 8 bytes each)")
    count = math.prod(shape)
    size, left = count * dtype.itemsize, info.file_size - f.tell()
    if size > left:                                      # refused before anything is allocated
        raise ValueError(f"member {name!r} is truncated: its header promises {shape} {dtype}, "
                         f"{size} bytes, but it holds {left}")
    if want is not None and tuple(shape) != tuple(want):
        raise ValueError(f"member {name!r} holds shape {shape}, but the model's {name[:-4]} has shape {want}")
    data = f.read(size)
    if len(data) != size:
        raise ValueError(f"member {name!r} is truncated: {len(data)} of {size} bytes")
    array = np.frombuffer(data, dtype=dtype, count=count).copy()
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def _members(key, value, prefix):
    """(path, Parameter) for an attribute: a Parameter, a Module, or a plain list/tuple/dict of those (nested
    as deep as you like): `self.ws = [Parameter(...), ...]` is found as ws.0, ws.1, ... as in a ParameterList."""
    if isinstance(value, Parameter):
        yield prefix + key, value
    elif isinstance(value, Module):
        yield from value._walk(f"{prefix}{key}.")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _members(str(i), item, f"{prefix}{key}.")
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _members(str(name), item, f"{prefix}{key}.")


class _Container(Module):
    """A Module holding its members in a list or dict (`_items`), named by position or key, as torch's."""

    def _walk(self, prefix):
        items = self._items.items() if isinstance(self._items, dict) else enumerate(self._items)
        for key, value in items:
            yield from _members(str(key), value, prefix)

    def _checked(self, value):
        if not isinstance(value, self._holds):
            raise TypeError(f"{type(self).__name__}: expected a {self._holds.__name__}, got "
                            f"{type(value).__name__} {value!r:.60}")
        return value

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, key):
        return self._items[key]

    def __setitem__(self, key, value):
        self._items[key] = self._checked(value)

    def __delitem__(self, key):
        del self._items[key]

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(): call its members in your own forward")

    def _children(self):
        items = self._items.items() if isinstance(self._items, dict) else enumerate(self._items)
        return [(str(k), v) for k, v in items]


class _ListContainer(_Container):
    def __init__(self, values=()):
        object.__setattr__(self, "_items", [])
        self.extend(values)

    def append(self, value):
        self._items.append(self._checked(value))
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def insert(self, index, value):
        self._items.insert(index, self._checked(value))

    def __getitem__(self, key):
        return type(self)(self._items[key]) if isinstance(key, slice) else self._items[key]


class _DictContainer(_Container):
    def __init__(self, values=None):
        object.__setattr__(self, "_items", {})
        self.update(values or {})

    def _checked_key(self, key):
        if not isinstance(key, str) or not key or "." in key:
            raise TypeError(f"{type(self).__name__}: keys must be non-empty strings without '.', got {key!r}")
        return key

    def __setitem__(self, key, value):
        self._items[self._checked_key(key)] = self._checked(value)

    def update(self, values):
        for key, value in (values.items() if hasattr(values, "items") else values):
            self[key] = value

    def __contains__(self, key):
        return key in self._items

    def keys(self):
        return self._items.keys()

    def values(self):
        return self._items.values()

    def items(self):
        return self._items.items()


class ModuleList(_ListContainer):
    """A list of Modules whose parameters are the model's (torch.nn.ModuleList): layers.0.weight, ..."""
    _holds = Module


class ModuleDict(_DictContainer):
    """Modules by name (torch.nn.ModuleDict): heads.policy.weight, ..."""
    _holds = Module


class ParameterList(_ListContainer):
    """A list of Parameters the model learns (torch.nn.ParameterList): weights.0, weights.1, ...
    A Tensor or array put in becomes a Parameter, as in torch."""
    _holds = Parameter

    def _checked(self, value):
        return _as_parameter(self, value)


class ParameterDict(_DictContainer):
    """Parameters by name (torch.nn.ParameterDict): scales.a, scales.b, ..."""
    _holds = Parameter
    _checked = ParameterList._checked


def _as_parameter(container, value):
    """A Parameter as it is; a Tensor or array becomes one (torch's ParameterList does the same)."""
    if isinstance(value, (Tensor, np.ndarray)) and not isinstance(value, Parameter):
        value = Parameter(value.data if isinstance(value, Tensor) else value)
    return _Container._checked(container, value)


def _child_modules(values):
    """The Modules among `values`, looking inside lists, tuples and dicts, in order."""
    found, stack = [], list(reversed(list(values)))
    while stack:
        value = stack.pop()
        if isinstance(value, Module):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            stack.extend(reversed(value))
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
    return found


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) and PyTorch's init U(±1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        self.in_features = check_size(in_features, "in_features", "Linear")
        self.out_features = check_size(out_features, "out_features", "Linear")
        bound = 1 / math.sqrt(self.in_features)
        self.weight = uniform_parameter((self.out_features, self.in_features), bound, dtype)
        self.bias = uniform_parameter((self.out_features,), bound, dtype) if bias else None

    def forward(self, x):
        x = as_tensor(x, "Linear", "x")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: x must have shape (..., in_features={self.in_features}), got {x.shape}")
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: row i of weight (num_embeddings, embedding_dim) for index i; init N(0, 1)."""

    def __init__(self, num_embeddings, embedding_dim, dtype=None):
        self.num_embeddings = check_size(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_size(embedding_dim, "embedding_dim", "Embedding")
        data = rng.generator().standard_normal((self.num_embeddings, self.embedding_dim))
        self.weight = Parameter(data.astype(float_dtype(dtype)))

    def forward(self, indices):
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ValueError(f"Embedding: indices must lie in [0, {self.num_embeddings}), "
                             f"got values from {idx.min()} to {idx.max()}")
        return self.weight[idx]                         # gradient rows add up where an index repeats

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class CrossEntropyLoss(Module):
    """torch.nn.CrossEntropyLoss: loss(input, target) = cross_entropy(input, target) with these options.
    Per-class weights are not supported (weight must be None); the options after it are keywords."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        no_class_weights(weight, "CrossEntropyLoss")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        self.reduction = check_reduction(reduction, "CrossEntropyLoss")

    def forward(self, input, target):
        return cross_entropy(input, target, self.ignore_index, self.reduction, self.label_smoothing)


class MSELoss(Module):
    """torch.nn.MSELoss: loss(input, target) = mse_loss(input, target, reduction)."""

    def __init__(self, *, reduction="mean"):
        self.reduction = check_reduction(reduction, "MSELoss")

    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


def no_class_weights(weight, owner):
    if weight is not None:
        raise NotImplementedError(f"{owner}: per-class weights are not supported (weight must be None); weight "
                                  f"each position yourself with reduction='none'")


def as_tensor(value, owner, what, name=None):
    """A Tensor, or a numpy array / list turned into a constant Tensor named `name` (default: `what`, the
    argument's name, so a diagram shows `x` rather than `const`); anything else is a TypeError."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        raise TypeError(f"{owner}: {what} must be a Tensor or a numpy array, got a {type(value).__name__} holding "
                        f"Tensors (tg.stack joins them into one Tensor)")
    if isinstance(value, (np.ndarray, list, tuple, numbers.Number)):
        return Tensor(value, name=(what if name is None else name) or None)
    raise TypeError(f"{owner}: {what} must be a Tensor or a numpy array, got {_type_name(value)}")


def _type_name(value):
    """A value's type by name, with its module when it is not a builtin: torch.Tensor is not our Tensor."""
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
