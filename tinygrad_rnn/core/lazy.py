"""Lazy gradients: how the fast walk adds up contributions without building each one.

A plain `backward()` is watched by nobody, so an op may send a contribution in a cheaper form than the dense
array it stands for (`op.vjp_lean`): the gradient of a slice as the slice (`Scatter`), the term x_t^T g_t a
matmul sends its weight as its two factors (`Outer`). `Sum` adds the contributions to one gradient as they
arrive, into a buffer it owns; the terms of a weight used at every time step are multiplied out together,
[x_1; x_2; ...]^T [g_1; g_2; ...], one large product instead of one per step. `add_term` is the one entry
point the walk uses. None of this changes a number: the reference walk (tape.reference_walk) gets the same.
"""
import numpy as np


class Lazy:
    """A gradient contribution kept in a cheaper form than the dense array it stands for."""
    __slots__ = ()

    def dense(self):
        raise NotImplementedError


class Scatter(Lazy):
    """The gradient of x[index]: zeros of x's shape with `values` at the selected positions (repeats add)."""
    __slots__ = ("shape", "dtype", "index", "values", "basic")

    def __init__(self, shape, dtype, index, values, basic):
        self.shape, self.dtype, self.index, self.values, self.basic = shape, dtype, index, values, basic

    def dense(self):
        full = np.zeros(self.shape, dtype=self.dtype)
        if self.basic:
            full[self.index] = self.values               # distinct positions: a copy, not a sum
        else:
            np.add.at(full, self.index, self.values)     # a repeated index receives every share
        return full

    def add_to(self, full):
        """full += this, in place, touching only the selected positions."""
        if not self.basic:
            np.add.at(full, self.index, self.values)
            return
        view = full[self.index]                          # basic index: a view into full
        if isinstance(view, np.ndarray):
            np.add(view, self.values, out=view)
        else:                                            # one element: numpy gives a scalar, not a view
            full[self.index] += self.values


class Outer(Lazy):
    """a^T @ g for 2-D a (n, k) and g (n, m): the gradient a matmul sends its right operand (and linear its
    weight, as g^T @ x). A lean walk sums the terms of a weight shared by many matmuls (or linears) as one
    product, [a_1; a_2; ...]^T [g_1; g_2; ...]."""
    __slots__ = ("a", "g", "dtype", "shape")

    def __init__(self, a, g, dtype):
        self.a, self.g, self.dtype, self.shape = a, g, dtype, (a.shape[1], g.shape[1])

    def dense(self):
        return (self.a.T @ self.g).astype(self.dtype, copy=False)

    def add_to(self, full):
        """full += this, in place (the product is made as dense() makes it: the same bits)."""
        np.add(full, self.dense(), out=full)


def as_array(x):
    """x as an array to compute into in place (numpy returns a scalar, not an array, for a 0-d result)."""
    return x if type(x) is np.ndarray else np.array(x)


def dense(c):
    """The dense array a contribution stands for."""
    return c.dense() if isinstance(c, Lazy) else c


FLUSH_ROWS = 256   # a shared weight's deferred matmul terms are multiplied out once they hold this many rows


class Sum(Lazy):
    """Two or more contributions to one gradient, added as they arrive, without a new array per term.

    Dense terms go into a buffer this walk owns, in place (the first term is used as it is until a second
    one comes). A Scatter adds only its positions. The Outer terms A_t^T G_t of a weight shared by many
    matmuls wait as factors and are multiplied out together, [A_1; A_2; ...]^T [G_1; G_2; ...], every
    FLUSH_ROWS rows and when the gradient is needed: one large product instead of one per time step.
    """
    __slots__ = ("buf", "owned", "a", "g", "rows", "dtype")

    def __init__(self, first, second):
        self.buf, self.owned, self.a, self.g, self.rows = None, False, [], [], 0
        self.add(first)
        self.add(second)

    def add(self, c):
        if type(c) is np.ndarray:
            self._add_dense(c, fresh=False)
        elif type(c) is Outer:
            self.a.append(c.a)
            self.g.append(c.g)
            self.rows += len(c.a)
            self.dtype = c.dtype
            if self.rows >= FLUSH_ROWS:
                self._add_dense(self._product(), fresh=True)
        elif isinstance(c, Lazy):
            if self.buf is None:
                self.buf, self.owned = c.dense(), True   # zeros: the pages are mapped as the terms are added
            else:
                if not self.owned:
                    self.buf, self.owned = np.array(self.buf), True
                c.add_to(self.buf)
        else:
            self._add_dense(c, fresh=False)

    def _add_dense(self, c, fresh):
        if self.buf is None:
            self.buf, self.owned = c, fresh
        elif self.owned:
            np.add(self.buf, c, out=self.buf)
        else:
            self.buf, self.owned = np.asarray(self.buf + c), True

    def _product(self):
        a = self.a[0] if len(self.a) == 1 else np.concatenate(self.a)
        g = self.g[0] if len(self.g) == 1 else np.concatenate(self.g)
        self.a, self.g, self.rows = [], [], 0
        return (a.T @ g).astype(self.dtype, copy=False)

    def dense(self):
        if self.a:
            self._add_dense(self._product(), fresh=True)
        return self.buf


def add_term(pending, key, c, is_leaf):
    """pending[key] += c: one more contribution to the gradient of `key` (a Node, or a leaf in a lean walk).

    The first contribution is kept as it is; two dense ones to an intermediate (h_t feeds two ops) make one
    new array; anything else (lazy terms, a leaf's many uses) goes into a Sum that owns its buffer."""
    before = pending.get(key)
    if before is None:
        pending[key] = c
    elif type(before) is Sum:
        before.add(c)
    elif not is_leaf and type(before) is np.ndarray and type(c) is np.ndarray:
        pending[key] = as_array(before + c)
    else:
        pending[key] = Sum(before, c)


def add_to_grad(leaf, c):
    """leaf.grad += c in place: the walk owns leaf.grad (a copy of c, or of the .grad held before the walk);
    c may be shared with other edges, so it is never the array added into."""
    grad = leaf.grad
    if grad is None:
        leaf.grad = c.dense() if isinstance(c, Lazy) else np.array(c)
    elif isinstance(c, Lazy):
        c.add_to(grad)                                   # touching only the slice's positions
    elif grad.shape == c.shape and grad.dtype == c.dtype:
        np.add(grad, c, out=grad)                        # no new array per time step
    else:                                                # a .grad of another shape or dtype set by hand
        leaf.grad = as_array(grad + c)


def finish_leaf(leaf, c):
    """The end of a lean walk: a leaf's summed terms become (or are added to) its .grad."""
    fresh = isinstance(c, Lazy)                          # building a lazy sum makes a new array the leaf can keep
    c = c.dense() if fresh else c
    leaf.grad = (c if fresh else np.array(c)) if leaf.grad is None else as_array(leaf.grad + c)
