"""The tape: what the forward pass records and the one walk that replays it backwards.

Forward: every op on a tensor that requires grad makes a Node (op, its inputs' producers in argument order,
what the vector-Jacobian product needs, scope, creation number) and hangs it on its output tensor. Only
what some vjp saved stays alive; the diagrams and the stepper get every other value back by recomputing it
(`materialize`), so a training step holds no more than a hand-written BPTT.
Backward: gather the nodes reachable from the root with an explicit stack, visit them by decreasing
creation number (creation order is a topological order), push each node's gradient through its op's vjp
and add every contribution to the input it belongs to. `Tensor.backward()`, the stepper and the diagrams
all read this one walk.
"""
import contextlib
import gc
import itertools
import operator
import weakref
from typing import NamedTuple

import numpy as np

from . import ops
from .ops import OPS, Lazy, Outer, _array


class GraphError(RuntimeError):
    """The graph cannot be walked (freed by an earlier backward, or no graph at all)."""


class ValuesChanged(GraphError):
    """The values a graph freed cannot be recomputed: a leaf changed since the forward."""


class _State:
    grad_enabled = True
    scope = ()          # the current scope as a tuple of names, e.g. ("lstm", "layer0", "t=3")
    anomaly = False     # detect_anomaly() is on


state = _State()
_creation = itertools.count()
_next_index = _creation.__next__   # creation numbers 0, 1, 2, ...
FREED = object()        # what a node's `saved` becomes once backward has consumed it


class Node:
    """How one tensor was made: op(inputs, **params), with what the vjp needs saved.

    The node points back to what made its inputs, not to their values: `args` holds, per input, the leaf
    Tensor itself or the Node that produced it. So the forward keeps alive only what some vjp saved (as
    PyTorch's autograd does); an intermediate nobody holds is freed at once. `inputs` gives the input Tensors
    back, recomputing the values nobody kept (see `materialize`): the diagrams and the stepper read those."""
    __slots__ = ("op", "args", "saved", "params", "scope", "index", "dtype", "name",
                 "grad", "input_grads", "_out", "_inputs")
    requires_grad = True              # a node's output always requires grad (what the walk asks of an input)

    def __init__(self, op, args, saved, params):
        self.op = op                  # an Op class from ops.py
        self.args = args              # per input, in argument order (a + a is two edges): leaf Tensor or Node
        self.saved = saved            # what op.vjp needs; FREED after backward
        self.params = params          # keyword arguments of the op (axis, index, ...) or {}
        self.scope = state.scope
        self.index = _next_index()    # creation number: a topological order
        self.name = None              # the output's name (kept here: the output tensor may be gone)
        self.grad = None              # after backward: dE/d(output), the gradient that arrived here
        self.input_grads = None       # after backward: the contribution sent along each input edge
        self._inputs = None           # the input Tensors, once materialized
        # dtype (the output's) and _out (a weak reference to the output) are set by apply, which made it

    @property
    def inputs(self):
        """The input Tensors in argument order; values the forward did not keep are recomputed."""
        if self._inputs is None:
            materialize(self)
        return self._inputs

    @property
    def output(self):
        return self._out()

    @property
    def scope_name(self):
        return "/".join(self.scope)

    def __repr__(self):
        args = ", ".join(f"#{a.index}" if type(a) is Node else str(a.shape) for a in self.args)
        where = f" in {self.scope_name}" if self.scope else ""
        return f"<Node #{self.index} {self.op.name}({args}){where}>"


# ---- grad mode and scopes ------------------------------------------------------------------------

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
        state.scope = self.before + self.parts

    def __exit__(self, *exc):
        state.scope = self.before

    def _recreate_cm(self):                              # as a decorator: a fresh one per call
        return scope("/".join(self.parts))


def current_scope():
    return "/".join(state.scope)


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


# ---- reading the recorded graph ------------------------------------------------------------------

def recorded(root):
    """(node, output tensor) for every node that produced `root`, newest first, with every value. No recursion."""
    if root._node is None:
        return []
    order = _newest_first(root._node)
    materialize(root._node, order)
    return [(node, node._out()) for node in order]


def _newest_first(last, walkable=False):
    """`last` and every node that produced its inputs, newest first.
    walkable: first make sure no node was freed by an earlier backward (so that none of .grad changes)."""
    found, seen, stack = [], {last}, [last]
    while stack:
        node = stack.pop()
        if walkable and node.saved is FREED:
            raise _freed(node)
        found.append(node)
        for a in node.args:
            if type(a) is Node and a not in seen:
                seen.add(a)
                stack.append(a)
    found.sort(key=_creation_number, reverse=True)
    return found


_creation_number = operator.attrgetter("index")


def _which(node):
    """'sigmoid (node #12 in lstm/layer0/t=3)': a node as the error messages name it."""
    return f"{node.op.name} (node #{node.index}{' in ' + node.scope_name if node.scope else ''})"


def _freed(node):
    return GraphError(f"backward through {_which(node)} a second time: its saved values were freed by the first "
                      "backward. Use backward(retain_graph=True) the first time.")


_REDO = "Draw or step through a graph before changing its weights, or run the forward again."


def graph(root):
    """The nodes of the graph that produced `root`, in execution order (node.output is the tensor)."""
    return [node for node, _ in reversed(recorded(root))]


def materialize(last, order=None):
    """Give `last` and every node before it their input Tensors (`node.inputs`), making the values the
    forward did not keep again: each node's op runs forward once more on its inputs, oldest first.

    A tensor someone still holds is used as it is (so `node.inputs` holds your own `h`), a recomputed one is
    made once and shared by all its users. The values are the forward's, bit for bit, unless a leaf changed in
    between: then `last`'s own value, when someone holds it, comes out different, and nothing is kept."""
    if last._inputs is not None:
        return
    given, recomputed = [], False
    try:
        with contextlib.ExitStack() as transposed:       # a layer's W_hh^T copied once, as in its forward
            for node in reversed(order if order is not None else _newest_first(last)):
                if node._inputs is not None:
                    continue
                inputs = []
                for a in node.args:
                    if type(a) is Node:
                        t = a._out()
                        if t is None:                    # nobody kept this value: compute it again
                            t, recomputed = _recompute(a, transposed), True
                            a._out = weakref.ref(t)
                        a = t
                    inputs.append(a)
                node._inputs = tuple(inputs)             # held from here: the graph now keeps every value
                given.append(node)
            out = last._out()
            if recomputed and out is not None and not np.array_equal(
                    _recompute(last, transposed).data, out.data, equal_nan=True):
                raise ValuesChanged(
                    f"the graph's values cannot be recomputed: {_which(last)} now gives another value than in "
                    f"the forward, so a weight or input changed since (its .data was edited or replaced). {_REDO}")
    except ValuesChanged:
        for node in given:                               # keep no values the forward never had
            node._inputs = None
        raise


def changed(leaf):
    """Note that `leaf` got new values (an optimizer step, load_state_dict): graphs recorded before this
    cannot recompute their values from it, and say so instead of showing numbers the forward never had."""
    leaf._changed_at = _next_index()


def _recompute(node, transposed):
    from .tensor import Tensor
    for t in node._inputs:
        if t._node is None and getattr(t, "_changed_at", -1) > node.index:
            raise ValuesChanged(
                f"cannot recompute the value of {_which(node)}: its input {t.name or 'a leaf'} {t.shape} was "
                f"changed (by an optimizer step or load_state_dict) after this graph was recorded. {_REDO}")
    data = [t.data for t in node._inputs]
    if node.params.get("contiguous_wt") and ops._transposed[0] is not data[1]:
        transposed.close()                               # one copy at a time, as in the forward
        transposed.enter_context(ops.transposed_once(data[1]))
    out = np.asarray(node.op.forward(*data, **node.params)[0]).astype(node.dtype, copy=False)
    t = Tensor._result(out, node)
    t._name = node.name
    return t


# ---- the walk ------------------------------------------------------------------------------------

class EdgeGrads(tuple):
    """A node's per-edge gradients where some are kept lazy (a slice's gradient as the slice): reading an
    item or iterating builds the dense array, so memory stays linear in the number of time steps."""
    __slots__ = ()

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self)[i]
        g = tuple.__getitem__(self, i)
        return g.dense() if isinstance(g, Lazy) else g

    def __iter__(self):
        for g in tuple.__iter__(self):
            yield g.dense() if isinstance(g, Lazy) else g


class Step(NamedTuple):
    """One node of the backward walk: the gradient that arrived at its output and what it sent on."""
    number: int          # 0 for the root, then 1, 2, ... in the order the walk visits nodes
    node: Node
    output: object       # the Tensor the node produced
    grad: np.ndarray     # dE/d(output), summed over every path that reaches it
    input_grads: tuple   # contribution sent along each input edge (None where not needed)


def walk(root, grad, retain_graph=False, keep_grads=True, lean=False):
    """Backpropagate `grad` from `root`, yielding one Step per node; leaves accumulate into .grad.

    keep_grads stores each node's arriving and outgoing gradients on the node (what viz draws);
    retain_graph keeps the saved intermediates so the graph can be walked again.
    lean is for a walk nobody watches (what a plain `backward()` asks for): it yields no steps, ops
    may send lazy gradients (`op.vjp_lean`: a slice's gradient stays the slice, the matmul terms of a weight
    used at every time step are multiplied out together), and leaves receive their .grad when it ends.
    """
    if root._node is None:
        raise GraphError("this tensor was not produced by a recorded op: nothing to backpropagate")
    if lean and keep_grads:
        raise ValueError("walk: a lean walk keeps no per-edge gradients; pass keep_grads=False with lean=True")
    anomaly = state.anomaly
    lean = lean and not anomaly            # detect_anomaly checks every contribution as an array
    last = root._node
    order = _newest_first(last, walkable=True)   # checked first: a freed graph changes no .grad
    if not lean:                           # a watched walk shows every value: the graph keeps them from now on
        try:
            materialize(last, order)
        except ValuesChanged:              # (weights changed since, with retain_graph: the gradients need no
            pass                           # values; a freed one shows as a step's output None)
    visited = [] if anomaly else None
    pending = {last: grad}                 # gradient arriving at each node not yet visited (and, in a lean
                                           # walk, at each leaf: keyed by the tensor, its .grad set at the end)
    number, vjps = 0, {}
    for node in order:
        g = pending.pop(node, None)
        if g is None:
            continue
        if isinstance(g, Lazy):
            g = g.dense()
        args, op = node.args, node.op
        if len(args) == 2:                               # which inputs want a gradient, without a new list
            needs = (args[0].requires_grad, args[1].requires_grad)
        elif len(args) == 1:
            needs = (args[0].requires_grad,)
        else:
            needs = tuple([a.requires_grad for a in args])
        chosen = vjps.get(op)
        if chosen is None:                               # once per op: which vjp, may it send a lazy, is it ours
            keep_lazy = getattr(op, "keeps_lazy", False) and not anomaly   # a slice's gradient stays the slice
            chosen = vjps[op] = ((getattr(op, "vjp_lean", op.vjp) if lean or keep_lazy else op.vjp), keep_lazy,
                                 OPS.get(getattr(op, "name", None)) is op)
        vjp, keep_lazy, tested = chosen
        grads = vjp(g, node.saved, needs)
        if not tested:                                   # the table's ops are gradchecked for their shapes
            _check_shapes(node, grads)
        out = node._out()                                # None when nobody holds the output (a lean walk)
        if anomaly:
            grads = _in_dtypes(args, grads)
            _check_grads(node, out, g, grads, number == 0)
            visited.append((node, out))
        if not retain_graph:
            node.saved = FREED
        cast = False
        for key, c in zip(args, grads):                  # key: the input's Node, or the leaf tensor itself
            if c is None:
                continue
            if type(key) is Node:
                dtype, leaf = key.dtype, False
            elif key.requires_grad:
                dtype, leaf = key.data.dtype, True
            else:                                        # constants never receive a gradient
                continue
            if c.dtype is not dtype and c.dtype != dtype:   # float32 W @ float64 x: W's grad is float32
                c, cast = c.astype(dtype), True
            if leaf and not lean:                        # a leaf in a watched walk: into .grad at once
                _accumulate(key, c)
                continue
            before = pending.get(key)                    # an intermediate (or a lean walk's leaf): sum its uses
            if before is None:
                pending[key] = c
            elif type(before) is _Sum:
                before.add(c)
            elif not leaf and type(before) is np.ndarray and type(c) is np.ndarray:
                pending[key] = _array(before + c)        # two dense terms (h_t feeds two ops): one new array;
            else:                                        # lazy terms, or a leaf's (often many): one buffer
                pending[key] = _Sum(before, c)
        if lean:
            if out is not None and out._retain:
                _retain(out, g)
            continue
        if cast:
            grads = _in_dtypes(args, grads)              # each edge's gradient in its input's dtype, as sent
        if keep_lazy:
            grads = EdgeGrads(grads)                     # readers see dense arrays, built when read
        if keep_grads:
            node.grad, node.input_grads = g, grads
        if out is not None and out._retain:
            _retain(out, g)
        yield Step(number, node, out, g, grads)
        number += 1
    g = grads = None                                     # the last node's gradient is needed no more
    while pending:                                       # what is left: the leaves of a lean walk; each one's
        t, c = pending.popitem()                         # terms are freed before the next one's .grad is made
        fresh = isinstance(c, Lazy)                      # building a lazy sum makes a new array the leaf can keep
        c = c.dense() if fresh else c
        t.grad = (c if fresh else np.array(c)) if t.grad is None else _array(t.grad + c)
    if anomaly:                                          # a leaf's sum over its uses can overflow too
        from .anomaly import check_leaves
        check_leaves(visited)


def _check_shapes(node, grads):
    """Each gradient an op outside the table sends must have its input's shape (apply keeps such an op's
    input tensors; the table's ops are gradchecked for their shapes)."""
    for t, c in zip(node._inputs, grads):
        if c is not None and t.requires_grad and c.shape != t.shape:
            raise GraphError(f"the vjp of {node.op.name} (node #{node.index}) sent a gradient of shape {c.shape} "
                             f"to an input of shape {t.shape}: the op must undo its broadcasting")


def _accumulate(leaf, c):
    """leaf.grad += c, the leaf keeping its own array (c may be shared with other edges)."""
    if leaf.grad is None:
        leaf.grad = c.dense() if isinstance(c, Lazy) else np.array(c)
    elif isinstance(c, Lazy):
        c.add_to(leaf.grad)                              # in place, touching only the slice's positions
    else:
        leaf.grad = _array(leaf.grad + c)                # a 0-d sum is a numpy scalar: keep an array


def _retain(out, g):
    """A tensor that asked to retain_grad accumulates across backward calls, as leaves do."""
    out.grad = np.array(g) if out.grad is None else _array(out.grad + g)


def _in_dtypes(args, grads):
    return tuple(c if c is None or c.dtype == a.dtype else c.astype(a.dtype) for a, c in zip(args, grads))


FLUSH_ROWS = 256   # a shared weight's deferred matmul terms are multiplied out once they hold this many rows


class _Sum(Lazy):
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


def _check_grads(node, out, g, grads, is_root):
    from .anomaly import check_backward
    check_backward(node, grads, g, out, is_root)
