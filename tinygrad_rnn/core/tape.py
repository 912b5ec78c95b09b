"""The tape: what the forward pass records and the walk that replays it backwards.

Forward: every op on a tensor that requires grad makes a Node (op, its inputs' producers in argument order,
what the vector-Jacobian product needs, scope, creation number) and hangs it on its output tensor. Only
what some vjp saved stays alive; the diagrams and the stepper get every other value back by recomputing it
(`materialize`), so a training step holds no more than a hand-written BPTT.
Backward: gather the nodes reachable from the root with an explicit stack, visit them by decreasing
creation number (creation order is a topological order), push each node's gradient through its op's vjp
and add every contribution to the input it belongs to. `Tensor.backward()`, the stepper and the diagrams
all read this one walk.

Read `reference_walk` first: the whole idea in a screenful. `walk` is the same walk made fast (lazy terms,
owned buffers: lazy.py) and watchable (one Step per node); the tests check that both give the same numbers.
"""
import contextlib
import itertools
import operator
import weakref
from typing import NamedTuple

import numpy as np

from . import anomaly, ops
from .lazy import Lazy, Sum, add_term, add_to_grad, as_array, finish_leaf
from .mode import state


class GraphError(RuntimeError):
    """The graph cannot be walked (freed by an earlier backward, or no graph at all)."""


class ValuesChanged(GraphError):
    """The values a graph freed cannot be recomputed: a leaf changed since the forward."""


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


# ---- reading the recorded graph ------------------------------------------------------------------

def recorded(root):
    """(node, output tensor) for every node that produced `root`, newest first, with every value. No recursion."""
    if root.node is None:
        return []
    order = nodes_newest_first(root.node)
    materialize(root.node, order)
    return [(node, node._out()) for node in order]


def nodes_newest_first(last, walkable=False):
    """`last` and every node that produced its inputs, newest first.
    walkable: first make sure no node was freed by an earlier backward (so that none of .grad changes)."""
    found, seen, stack = [], {last}, [last]
    while stack:
        node = stack.pop()
        if walkable and node.saved is FREED:
            raise _freed(node, continued=node is not last)
        found.append(node)
        for a in node.args:
            if type(a) is Node and a not in seen:
                seen.add(a)
                stack.append(a)
    found.sort(key=_creation_number, reverse=True)
    return found


_creation_number = operator.attrgetter("index")


def which(node):
    """'sigmoid (node #12 in lstm/layer0/t=3)': a node as the error messages name it."""
    return f"{node.op.name} (node #{node.index}{' in ' + node.scope_name if node.scope else ''})"


def _freed(node, continued):
    """The error for a walk that meets a node an earlier backward freed; `continued`: this graph only reaches
    back into that one (a recurrent state carried on from a chunk already walked back)."""
    if not continued:
        return GraphError(f"backward through {which(node)} a second time: its saved values were freed by the "
                          "first backward. Use backward(retain_graph=True) the first time.")
    return GraphError(
        "this graph reaches back into one an earlier backward() freed: a state carried on from the previous chunk? "
        "Cut it with tg.detach_state(state) before the next forward (truncated BPTT), or call "
        f"backward(retain_graph=True) on the first chunk to walk back through both. (Freed: {which(node)}.)")


_REDO = "Draw or step through a graph before changing its weights, or run the forward again."


def graph(root):
    """The nodes of the graph that produced `root`, in execution order (node.output is the tensor)."""
    return [node for node, _ in reversed(recorded(root))]


def materialize(last, order=None):
    """Give `last` and every node before it their input Tensors (`node.inputs`), making the values the
    forward did not keep again: each node's op runs forward once more on its inputs, oldest first.

    A tensor someone still holds is used as it is (so `node.inputs` holds your own `h`), a value some vjp saved
    (a sigmoid's output, a product's factors) is taken from there, any other is recomputed; each is made once
    and shared by all its users. The values are the forward's, bit for bit, unless a leaf changed in between:
    then `last`'s own value, when someone holds it, comes out different, and nothing is kept."""
    if last._inputs is not None:
        return
    order = order if order is not None else nodes_newest_first(last)
    given, recomputed, saved = [], False, _saved_values(order)
    try:
        with contextlib.ExitStack() as transposed:       # a layer's W_hh^T copied once, as in its forward
            for node in reversed(order):
                if node._inputs is not None:
                    continue
                inputs = []
                for a in node.args:
                    if type(a) is Node:
                        t = a._out()
                        if t is None:                    # nobody holds this value: a vjp saved it, or compute it
                            value = saved.get(a)         # again
                            t, recomputed = _recompute(a, transposed, value), recomputed or value is None
                            a._out = weakref.ref(t)
                        a = t
                    inputs.append(a)
                node._inputs = tuple(inputs)             # held from here: the graph now keeps every value
                given.append(node)
            out = last._out()
            if recomputed and out is not None and not np.array_equal(
                    _recompute(last, transposed).data, out.data, equal_nan=True):
                raise ValuesChanged(
                    f"the graph's values cannot be recomputed: {which(last)} now gives another value than in "
                    f"the forward, so a weight or input changed since (its .data was edited or replaced). {_REDO}")
    except ValuesChanged:
        for node in given:                               # keep no values the forward never had
            node._inputs = None
        raise


def _saved_values(order):
    """{node: its output array} for the nodes nobody holds whose value a vjp saved (ops' `kept`), while the
    graph is not freed."""
    found = {}
    for node in order:
        if node.saved is FREED:
            continue
        for k, array in ops.op_field(node.op, "kept")(node.saved).items():
            a = node if k == "out" else node.args[k]
            if type(a) is Node and a not in found and a._out() is None and type(array) is np.ndarray \
                    and array.dtype == a.dtype:
                found[a] = array
    return found


def move_value(t, where):
    """t's value moved into `where`, an array of its shape and dtype (a row of a recurrent layer's output): t,
    and the node that made it if its vjp saved its output, hold `where` from now on; t's own array is dropped."""
    where[...] = t.data
    if t._node is not None and t._node.saved is t.data:
        t._node.saved = where
    t.data = where


def changed(leaf):
    """Note that `leaf` got new values (an optimizer step, load_state_dict): graphs recorded before this
    cannot recompute their values from it, and say so instead of showing numbers the forward never had."""
    leaf._changed_at = _next_index()


def _recompute(node, transposed, value=None):
    """node's output Tensor again: `value` (the array a vjp saved) if given, else its op run forward once more."""
    from .tensor import Tensor      # the core's one call-time import: tensor.py builds on this module
    if value is None:
        value = _forward_again(node, transposed)
    t = Tensor._result(value, node)
    t._name = node.name
    return t


def _forward_again(node, transposed):
    for t in node._inputs:
        if t.is_leaf and getattr(t, "_changed_at", -1) > node.index:
            raise ValuesChanged(
                f"cannot recompute the value of {which(node)}: its input {t.name or 'a leaf'} {t.shape} was "
                f"changed (by an optimizer step or load_state_dict) after this graph was recorded. {_REDO}")
    data = [t.data for t in node._inputs]
    if node.params.get("contiguous_wt") and state.transposed[0] is not data[1]:
        transposed.close()                               # one copy at a time, as in the forward
        transposed.enter_context(ops.transposed_once(data[1]))
    return np.asarray(node.op.forward(*data, **node.params)[0]).astype(node.dtype, copy=False)


# ---- the walk ------------------------------------------------------------------------------------


def initial_grad(root, grad=None):
    """Where a backward starts: dE/dE = 1 for a one-element root, else `grad` (a Tensor or array of root's
    shape: the vector of the vector-Jacobian product), in root's dtype."""
    if not root.requires_grad:
        raise GraphError("backward(): this tensor does not require grad and no graph produced it; "
                         "create the leaves with requires_grad=True")
    if grad is None:
        if root.data.size != 1:
            raise ValueError(f"backward(): the tensor has shape {root.shape}, not one value; pass grad= "
                             "of that shape (the vector in the vector-Jacobian product), or reduce it first")
        return np.ones_like(root.data)
    grad = np.asarray(grad if isinstance(grad, np.ndarray) else getattr(grad, "data", grad), dtype=root.dtype)
    if grad.shape != root.shape:
        raise ValueError(f"backward(): grad has shape {grad.shape}, but the tensor has shape {root.shape}")
    return grad


# ---- the reference walk: read this first ------------------------------------------------------------

def reference_walk(root, grad):
    """Backpropagate `grad` (dE/d root) from `root` the plain way; returns {leaf: [its terms, one per use]}.

    This is all of backpropagation, and all of BPTT. The seed's formula (2), for its three-step network:
        dE3/dWs =  dE3/dy3 dy3/ds3 ds3/dWs                       (W_s used at t=3)
                 + dE3/dy3 dy3/ds3 ds3/ds2 ds2/dWs               (W_s used at t=2)
                 + dE3/dy3 dy3/ds3 ds3/ds2 ds2/ds1 ds1/dWs       (W_s used at t=1)
    One term per time step, because W_s was used once per step: three edges of the graph go into W_s.
    Nobody writes that sum down. The walk goes back from E3 one node at a time; each node sends one
    contribution along each input edge (its op's vjp: the chain so far times one more factor), and the
    contributions that reach the same tensor wait in a list until that tensor's turn. For a weight, the list
    holds one term per time step: their sum is the sum over time steps. Nothing is changed (no .grad set,
    nothing freed): `walk` is the same, fast.
    """
    order = nodes_newest_first(root.node)   # newest first: a node's turn comes after every node that used it
    terms = {root.node: [grad]}             # tensor -> the contributions it received so far (an input is a
    for node in order:                      # leaf Tensor, or the Node that made it, standing for its output)
        if node not in terms:
            continue                        # nothing reached this node: no path from it to the root
        g = sum(terms.pop(node))            # dE/d(its output): every use has sent its term; add them up
        needs = tuple(a.requires_grad for a in node.args)
        for a, c in zip(node.args, node.op.vjp(g, node.saved, needs)):   # one contribution per input edge
            if c is not None and a.requires_grad:
                terms.setdefault(a, []).append(c.astype(a.dtype, copy=False))
    return terms                            # what is left: the leaves, each with its list of terms


# ---- the fast walk ---------------------------------------------------------------------------------------
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


def edge_term(node, pos):
    """What the walk sent along input `pos` of `node`, as it kept it (backward(keep_grads=True)): an array, a
    Lazy (a slice's gradient as the slice; lazy.dense makes the array, lazy.Sum adds such terms touching only
    their positions) or None. Reading node.input_grads[pos] instead builds the dense array."""
    grads = node.input_grads
    return None if grads is None else tuple.__getitem__(grads, pos)


class Step(NamedTuple):
    """One node of the backward walk: the gradient that arrived at its output and what it sent on."""
    number: int          # 0 for the root, then 1, 2, ... in the order the walk visits nodes
    node: Node
    output: object       # the Tensor the node produced
    grad: np.ndarray     # dE/d(output), summed over every path that reaches it
    input_grads: tuple   # contribution sent along each input edge (None where not needed)


def walk(root, grad, retain_graph=False, keep_grads=True, lean=False):
    """Backpropagate `grad` from `root`, yielding one Step per node; leaves accumulate into .grad.

    The reference walk above, with three additions: keep_grads stores each node's arriving and outgoing
    gradients on the node (what viz draws); retain_graph keeps the saved intermediates so the graph can be
    walked again (else they are freed as the walk goes); lean is for a walk nobody watches (what a plain
    `backward()` asks for): it yields no steps, ops may send lazy gradients (`op.vjp_lean`, see lazy.py), and
    leaves receive their .grad when it ends. All or nothing: a walk that fails puts back every .grad it changed.
    """
    order, checking, lean = _start(root, keep_grads, lean)
    visited = [] if checking else None
    pending = {root.node: grad}            # gradient arriving at each node not yet visited (and, in a lean
    number, chosen, before = 0, {}, {}     # walk, at each leaf); before: each changed .grad's old value
    try:
        for node in order:
            g = pending.pop(node, None)
            if g is None:
                continue                   # no path from here to the root carries a gradient
            if isinstance(g, Lazy):
                g = g.dense()
            args = node.args
            if len(args) == 2:             # which inputs want a gradient (the common cases without a list)
                needs = (args[0].requires_grad, args[1].requires_grad)
            elif len(args) == 1:
                needs = (args[0].requires_grad,)
            else:
                needs = tuple([a.requires_grad for a in args])
            vjp, keep_lazy, in_table = chosen.get(node.op) or chosen.setdefault(node.op, _vjp_for(node.op, lean))
            grads = vjp(g, node.saved, needs)
            if not in_table:               # the table's ops are gradchecked for their shapes; others are checked
                _check_shapes(node, grads)
            out = node._out()              # None when nobody holds the output (a lean walk)
            if checking:
                grads = _in_dtypes(node.args, grads)
                anomaly.check_backward(node, grads, g, out, number == 0)
                visited.append(node)
            if not retain_graph:
                node.saved = FREED
            cast = _send(node.args, grads, pending, None if lean else before)
            if out is not None and out._retain:
                _retain(out, g, before)
            if lean:
                continue
            if cast:
                grads = _in_dtypes(node.args, grads)     # each edge's gradient in its input's dtype, as sent
            if keep_lazy:
                grads = EdgeGrads(grads)                 # readers see dense arrays, built when read
            if keep_grads:
                node.grad, node.input_grads = g, grads
            yield Step(number, node, out, g, grads)
            number += 1
        g = grads = None                                 # the last node's gradient is needed no more
        _finish(pending, before, visited)
    except BaseException as err:                         # closing a half-read walk (GeneratorExit) keeps
        if not isinstance(err, GeneratorExit):           # what it did; a failure undoes it
            _put_back(before)
        raise


def _start(root, keep_grads, lean):
    """(the nodes to visit, is anomaly checking on, is the walk lean) after checking the call."""
    if root.node is None:
        raise GraphError("this tensor was not produced by a recorded op: nothing to backpropagate")
    if lean and keep_grads:
        raise ValueError("walk: a lean walk keeps no per-edge gradients; pass keep_grads=False with lean=True")
    checking = state.anomaly
    lean = lean and not checking           # detect_anomaly checks every contribution as an array
    return _walkable(root.node, values=not lean), checking, lean


def _finish(pending, before, visited):
    """What is left in `pending` are the leaves of a lean walk: each one's terms are freed before the next
    one's .grad is made. Under detect_anomaly, a leaf's sum over its uses is checked too."""
    while pending:
        leaf, c = pending.popitem()
        before.setdefault(leaf, leaf.grad)
        finish_leaf(leaf, c)
    if visited is not None:
        anomaly.check_leaves(_leaves_of(visited))


def _put_back(before):
    """Undo a failed walk: every .grad it changed holds its old array again."""
    for t, grad in before.items():
        t.grad = grad


def _walkable(last, values):
    """The nodes to visit, newest first, checked first (a freed graph changes no .grad). A watched walk
    shows every value: the graph keeps them from now on."""
    order = nodes_newest_first(last, walkable=True)
    if values:
        try:
            materialize(last, order)
        except ValuesChanged:              # weights changed since, with retain_graph: the gradients need no
            pass                           # values; a freed one shows as a step's output None
    return order


def _vjp_for(op, lean):
    """(the vjp to call, may its lazy gradients be kept in a watched walk, is the op in the table)."""
    keep_lazy = getattr(op, "keeps_lazy", False) and not state.anomaly   # a slice's gradient stays the slice
    vjp = getattr(op, "vjp_lean", op.vjp) if lean or keep_lazy else op.vjp
    return vjp, keep_lazy, op in ops.BUILT_IN


def _send(args, grads, pending, old_grads):
    """Add each edge's contribution to the input it belongs to: an intermediate's into `pending` (summed over
    its uses), a leaf's into .grad at once in a watched walk (noting its old .grad in `old_grads`), into
    `pending` in a lean one (`old_grads` None). Returns whether a contribution was cast to its input's dtype
    (float32 W @ float64 x: W's grad is float32)."""
    cast = False
    for key, c in zip(args, grads):                      # key: the input's Node, or the leaf tensor itself
        if c is None or not key.requires_grad:           # constants never receive a gradient
            continue
        is_leaf = type(key) is not Node
        dtype = key.data.dtype if is_leaf else key.dtype
        if c.dtype is not dtype and c.dtype != dtype:
            c, cast = c.astype(dtype), True
        if is_leaf and old_grads is not None:           # a watched walk: .grad at once, its old value noted
            if key not in old_grads:
                old_grads[key] = key.grad
                if key.grad is not None:                 # the old array stays as it was (the walk
                    key.grad = np.array(key.grad)        # adds into .grad in place)
            add_to_grad(key, c)
            continue
        before = pending.get(key)                        # pending[key] += c (lazy.add_term, inlined: hot)
        if before is None:
            pending[key] = c
        elif type(before) is Sum:
            before.add(c)
        else:
            add_term(pending, key, c, is_leaf)
    return cast


def _leaves_of(nodes):
    found = {}
    for node in nodes:
        for t in node.args:                              # a leaf is its own arg; a Node stands for an intermediate
            if type(t) is not Node and t.requires_grad:
                found[id(t)] = t
    return list(found.values())


def _check_shapes(node, grads):
    """Each gradient an op outside the table sends must have its input's shape (apply keeps such an op's
    input tensors; the table's ops are gradchecked for their shapes)."""
    for t, c in zip(node._inputs, grads):
        if c is not None and t.requires_grad and c.shape != t.shape:
            raise GraphError(f"the vjp of {node.op.name} (node #{node.index}) sent a gradient of shape {c.shape} "
                             f"to an input of shape {t.shape}: the op must undo its broadcasting")


def _retain(out, g, before):
    """A tensor that asked to retain_grad accumulates across backward calls, as leaves do."""
    before.setdefault(out, out.grad)
    out.grad = np.array(g) if out.grad is None else as_array(out.grad + g)


def _in_dtypes(args, grads):
    return tuple(c if c is None or c.dtype == a.dtype else c.astype(a.dtype) for a, c in zip(args, grads))
