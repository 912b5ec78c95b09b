"""Modules: objects that own Parameters, with PyTorch's names (parameters, state_dict, zero_grad, ...).

A Parameter is a leaf Tensor with requires_grad=True. A Module finds its parameters by looking at its
attributes (Parameters, sub-Modules, lists of Modules) in the order they were assigned, and names them with
dotted paths as PyTorch does ("rnn.weight_ih_l0"). The same path becomes the Parameter's `.name`, so
diagrams label the weight by the name a user would type.
"""
import math
import numbers
import os
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from . import rng
from .tensor import Tensor, get_default_dtype

__all__ = ["Parameter", "Module", "Linear", "Embedding", "IncompatibleKeys", "check_size"]


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


def uniform_parameter(shape, bound, dtype=None):
    """PyTorch's default init for linear and recurrent weights: U(-bound, bound)."""
    data = rng.generator().uniform(-bound, bound, size=shape)
    return Parameter(data.astype(dtype or get_default_dtype()))


class Module:
    """Base class: subclasses assign Parameters and Modules as attributes and define forward()."""

    def __setattr__(self, key, value):
        object.__setattr__(self, key, value)
        for path, p in _members(key, value, ""):
            if not isinstance(value, Parameter) or p.name is None:
                p.name = path                       # a child's parameters take their path as their name

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # ---- parameters -----------------------------------------------------------------------------
    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) pairs in the order they were assigned; a shared one appears once."""
        seen, out = set(), []
        for name, p in self._walk(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                out.append((name, p))
        return out

    def _walk(self, prefix):
        for key, value in vars(self).items():
            yield from _members(key, value, prefix)

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        """Forget every parameter's gradient (set to None, as PyTorch does by default)."""
        for p in self.parameters():
            p.grad = None

    # ---- saving and loading ---------------------------------------------------------------------
    def state_dict(self):
        """{dotted name: copy of the parameter's array}."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the parameters. All or nothing: any problem raises before anything changes.

        Mis-shaped arrays are always an error; with strict=True so are missing and unexpected keys.
        Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state, "keys"):
            raise TypeError(f"load_state_dict: expected a dict of name -> array, got {type(state).__name__}")
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        arrays, problems = {}, []
        for key, p in own.items():
            if key not in state:
                continue
            value = state[key]
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.dtype.kind not in "fiu":
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
        return IncompatibleKeys(missing, unexpected)

    def save(self, path):
        """Write state_dict() to `path` as an .npz archive of plain arrays (no pickle)."""
        path = os.fspath(path)
        tmp = path + ".tmp"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for key, array in self.state_dict().items():
                with archive.open(key + ".npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, array, allow_pickle=False)
        os.replace(tmp, path)                           # never leave a half-written file at `path`

    def load(self, path, strict=True):
        """Load parameters saved by save(); a corrupt or foreign file raises ValueError. Returns self."""
        path = os.fspath(path)
        try:
            archive = np.load(path, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not an .npz archive of named arrays")
            with archive:
                state = {key: archive[key] for key in archive.files}
        except (ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
            raise ValueError(f"load: {path} is not an .npz archive of parameters written by save(): {err}") from None
        self.load_state_dict(state, strict=strict)
        return self

    # ---- display --------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        children = [f"  ({k}): " + repr(v).replace("\n", "\n  ") for k, v in vars(self).items()
                    if isinstance(v, Module)]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(children) + "\n)" if children else ")")


def _members(key, value, prefix):
    """(path, Parameter) for an attribute: a Parameter, a Module, or a list/tuple of Modules."""
    if isinstance(value, Parameter):
        yield prefix + key, value
    elif isinstance(value, Module):
        yield from value._walk(f"{prefix}{key}.")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, Module):
                yield from item._walk(f"{prefix}{key}.{i}.")


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
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: row i of weight (num_embeddings, embedding_dim) for index i; init N(0, 1)."""

    def __init__(self, num_embeddings, embedding_dim, dtype=None):
        self.num_embeddings = check_size(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_size(embedding_dim, "embedding_dim", "Embedding")
        data = rng.generator().standard_normal((self.num_embeddings, self.embedding_dim))
        self.weight = Parameter(data.astype(dtype or get_default_dtype()))

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


def as_tensor(value, owner, what):
    """A Tensor, or a numpy array / list turned into a constant Tensor; anything else is a TypeError."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, list, tuple, numbers.Number)):
        return Tensor(value)
    raise TypeError(f"{owner}: {what} must be a Tensor or a numpy array, got {type(value).__name__}")
