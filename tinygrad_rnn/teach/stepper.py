"""The stepper: backward one node at a time, kept so it can be replayed, rewound and explained.

`Stepper(loss)` consumes the very generator `Tensor.backward()` drains (`tape.walk`), so running it to the
end leaves exactly the `.grad` values `backward()` would. Every step it has taken is kept as a `StepView`;
`prev`, `next` and `seek` move through that record without recomputing anything.

A step shows what reverse accumulation does at one node: the gradient arriving at the node's output (and
the pieces it was summed from), the op's derivative rule, the contribution sent along each input edge, and
for every leaf (a weight) the running sum of its gradient -- which is how "back-propagation through time"
appears: a weight used at t=1, 2, 3 receives one contribution per use ("W_s += contribution from t=2").

`jacobian(f_or_output, wrt)` builds d output / d wrt row by row with the same walk (retain_graph).
"""
from dataclasses import dataclass, field

import numpy as np

from ..core import tape
from ..core.ops import index_text, op_field
from ..core.tensor import Tensor
from .steps import StepTerms, step_of, time_of

# ---- compact numbers -------------------------------------------------------------------------------

def compact(value, items=6, digits=3):
    """A short, readable rendering of a number or array: '0.0123', '[[0.1, -2], [3, 0.5]]' (small matrices
    in full) or '[0.12, -3.4e-05, ...] (3, 4)' (the first few values and the shape)."""
    if value is None:
        return "None"
    a = np.asarray(value)
    num = lambda v: f"{float(v):.{digits}g}"
    if a.ndim == 0:
        return num(a)
    if a.ndim == 2 and a.size <= 2 * items and a.shape[0] > 1:
        return "[" + ", ".join("[" + ", ".join(num(v) for v in row) + "]" for row in a) + "]"
    flat = a.reshape(-1)
    shown = [num(v) for v in flat[:items]]
    more = ", ..." if flat.size > items else ""
    return f"[{', '.join(shown)}{more}] {a.shape}"


def norm(value):
    """Frobenius norm of an array (0.0 for None)."""
    return 0.0 if value is None else float(np.linalg.norm(np.asarray(value, dtype=np.float64).reshape(-1)))



# ---- what one step shows ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GradPart:
    """One piece of a node's upstream gradient: the contribution one consumer sent back."""
    from_step: int | None     # index of the step that sent it (None: the initial gradient at the root)
    from_label: str           # that step's label, or "start" (the initial gradient)
    grad: np.ndarray


@dataclass(frozen=True)
class Edge:
    """An input edge of the current node and the gradient sent along it."""
    position: int             # argument position (x_t @ W and s @ W are different edges)
    tensor: Tensor
    name: str                 # display name (Stepper.label)
    kind: str                 # "leaf" (requires grad, accumulates .grad), "node" (intermediate), "const"
    grad: np.ndarray | None   # the contribution sent along this edge (None for constants)


@dataclass(frozen=True)
class Accumulation:
    """A contribution added into the gradient of a tensor that several edges use.

    For a leaf (a weight) the sum of this walk's terms is what the walk adds to its .grad (any gradient the
    leaf held before the walk is `before`, kept apart); for a shared intermediate (a state s_t used by the
    output at t and by s_{t+1}) it is the gradient that will arrive at that tensor's own step. Leaves are
    always reported; intermediates only when used more than once. A batched input projection's weight edge
    (W_ih of the library layers) is reported as one term per step (see steps.StepTerms).
    """
    name: str
    tensor: Tensor
    kind: str                 # "leaf" or "node"
    contribution: np.ndarray
    total: np.ndarray         # this walk's terms so far, this contribution included (never `before`)
    when: str                 # where it came from: 't=2', a gate ('forget_gate') or the sender's label
    use: int                  # 1, 2, ...: how many contributions this tensor has received so far
    uses: int                 # how many terms this tensor receives in the walk (edges; rows of a projection)
    history: tuple            # the `when` of every contribution so far, oldest first
    step: int | None = None   # the time step of this term
    before: np.ndarray | None = None   # a leaf's .grad before this walk started (None: there was none)
    loss: str = "loss"        # the loss's name in ∂E_3/∂s_2 (its .name; `loss` when it has none)

    @property
    def shared(self):
        return self.uses > 1

    @property
    def grad(self):
        """What the leaf's .grad holds after this term: `before` (if any) plus this walk's sum."""
        return self.total if self.before is None else self.before + self.total

    @property
    def text(self):
        """'W_s += contribution from t=2 (2nd of 3 uses; W_s.grad = t=3 + t=2)'; when W_s held a gradient
        before the walk: '(...; this backward's sum = t=3 + t=2; W_s.grad = (before this backward) + this sum)'."""
        head = f"{self.name} += contribution from {self.when}"
        if not self.shared and self.before is None:
            return head
        terms = list(self.history)
        if len(terms) > 4:
            terms = terms[:2] + ["..."] + terms[-1:]
        if self.kind != "leaf":
            target = grad_text(self.loss, self.name)
            return f"{head} ({_ordinal(self.use)} of {self.uses} uses; {target} = {' + '.join(terms)})"
        count = f"{_ordinal(self.use)} of {self.uses} uses; " if self.shared else ""
        if self.before is None:
            return f"{head} ({count}{self.name}.grad = {' + '.join(terms)})"
        return (f"{head} ({count}this backward's sum = {' + '.join(terms)}; {self.name}.grad = "
                "(before this backward) + this sum)")


def grad_text(loss, of):
    """'∂E_3/∂s_2', '∂E/∂(s_1 @ W_s)': the one notation for a gradient in text."""
    return f"∂{loss}/∂({of})" if " " in of else f"∂{loss}/∂{of}"


def _ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@dataclass(frozen=True)
class StepView:
    """One node of the backward walk, with everything a learner (or the player) needs to show it."""
    index: int                # 0 for the root, then 1, 2, ... (position in the stepper)
    total: int                # number of steps of the whole walk
    node: tape.Node
    output: Tensor
    label: str                # how the output is shown (Stepper.label): its name, an expression, or op#index
    grad: np.ndarray          # dE/d(output): the upstream gradient, summed over every consumer
    grad_parts: tuple         # GradPart per consumer that contributed to `grad`
    inputs: tuple             # Edge per input, in argument order
    accumulations: tuple      # Accumulation per edge into a leaf or into a shared intermediate
    leaf_grads: dict = field(repr=False)   # name -> leaf gradient so far (None if none yet); a snapshot
    loss: str = "loss"        # the loss's name in ∂E_3/∂y_3 (its .name; `loss` when it has none)

    op = property(lambda self: self.node.op.name)
    rule = property(lambda self: self.node.op.rule)
    latex = property(lambda self: self.node.op.latex)
    scope = property(lambda self: self.node.scope_name)
    time = property(lambda self: time_of(self.node))
    shape = property(lambda self: self.output.shape)
    name = property(lambda self: self.output.name)

    def describe(self, fmt=compact):
        """The step as a few lines of text (what `tinygrad-rnn step` prints)."""
        where = f"  [{self.scope}]" if self.scope else ""
        lines = [f"step {self.index + 1}/{self.total}: {self.op} -> {self.label}  shape {self.shape}{where}",
                 f"  rule      {self.rule}",
                 f"  upstream  {grad_text(self.loss, self.label)} = {fmt(self.grad)}  |g|={norm(self.grad):.3g}"]
        if len(self.grad_parts) > 1:
            parts = " + ".join(f"from {p.from_label} ({norm(p.grad):.3g})" for p in self.grad_parts)
            lines.append(f"            summed from {len(self.grad_parts)} uses: {parts}")
        for e in self.inputs:
            if e.kind == "const":
                lines.append(f"  -> {e.name} (input {e.position}): constant, no gradient")
            else:
                lines.append(f"  -> {e.name} (input {e.position}): {fmt(e.grad)}  |.|={norm(e.grad):.3g}")
        lines.extend(f"  ** {a.text}" for a in self.accumulations)
        return "\n".join(lines)


# ---- the stepper -----------------------------------------------------------------------------------

class Stepper:
    """Backward from `root`, one node per `next()`; every step kept so `prev()`/`seek()` can revisit it.

    Running the stepper to the end is `root.backward(grad, retain_graph)`: leaves accumulate `.grad`
    as the walk reaches them (if you stop half way, they hold the partial sums). `names` maps display
    names to leaf tensors (e.g. `dict(model.named_parameters())`); otherwise a leaf is shown by its
    `.name`, or 'leaf<k>'.
    """

    def __init__(self, root, grad=None, *, retain_graph=False, names=None):
        if not isinstance(root, Tensor):
            raise TypeError(f"Stepper: expected a Tensor, got {type(root).__name__}")
        if names is not None and (not hasattr(names, "items") or
                                  not all(isinstance(n, str) and isinstance(t, Tensor) for n, t in names.items())):
            raise TypeError("Stepper: names must map display names to tensors, e.g. dict(model.named_parameters()), "
                            f"got {type(names).__name__}")
        self.root = root
        self.loss = root.name or "loss"              # how text writes the loss: ∂E_3/∂y_3; its label
        initial = tape.initial_grad(root, grad)
        _check_fresh(root)
        pairs = tape.recorded(root)
        self.total = len(pairs)
        self._names, self._uses = {}, {}             # id(tensor) -> display name / number of edges into it
        given = {id(t): n for n, t in (names or {}).items()}
        taken = set(given.values())
        leaves = {}
        self._terms = StepTerms(node for node, _ in pairs)
        for node, _ in reversed(pairs):              # creation order: names follow the forward pass
            for pos, t in enumerate(node.inputs):
                if not t.requires_grad:
                    continue
                key = id(t)
                self._uses[key] = self._uses.get(key, 0) + (self._terms.count(node, pos) if t.node is None else 1)
                if t.node is None and key not in self._names:
                    name = given.get(key) or t.name or f"leaf{len(leaves)}"
                    if name in taken and key not in given:
                        name = _unique(name, taken)
                    taken.add(name)
                    self._names[key] = name
                    leaves[name] = t
        self.leaves = leaves                          # name -> leaf tensor, in order of first use
        self._initial = {n: None if t.grad is None else np.array(t.grad) for n, t in leaves.items()}
        self._history = {}                            # id(tensor) -> `when` of each contribution so far
        self._sums = {}                               # id(tensor) -> this walk's terms into it so far
        self._parts = {root.node: [GradPart(None, "start", initial)]}   # node -> pieces of its upstream grad
        self._walk = tape.walk(root, initial, retain_graph, keep_grads=True)
        self._steps = []
        self._current = self._initial
        self.position = -1                            # -1: before the first step

    # -- moving --------------------------------------------------------------------------------------
    @property
    def steps(self):
        """The steps taken so far, as a tuple of StepView."""
        return tuple(self._steps)

    @property
    def done(self):
        """True once the walk has visited every node (all leaf gradients are final)."""
        return self._walk is None

    @property
    def current(self):
        return self._steps[self.position] if self.position >= 0 else None

    def next(self):
        """Advance one step (running the walk if this step was never taken); None at the end."""
        if self.position + 1 >= len(self._steps) and not self._advance():
            return None
        self.position += 1
        return self._steps[self.position]

    def prev(self):
        """Go back one step (nothing is recomputed); None when back before the first step."""
        if self.position >= 0:
            self.position -= 1
        return self.current

    def seek(self, index):
        """Go to step `index` (0-based; negative counts from the end of the walk)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Stepper.seek: index must be an integer, got {type(index).__name__} {index!r}")
        if index < 0:
            index += self.total
        if not 0 <= index < self.total:
            raise IndexError(f"Stepper.seek: step {index} is outside 0..{self.total - 1}")
        while len(self._steps) <= index and self._advance():
            pass
        self.position = min(index, len(self._steps) - 1)
        return self.current

    def rewind(self):
        """Back to before the first step (the recorded steps are kept)."""
        self.position = -1

    def run(self):
        """Run the walk to the end and stand on the last step; returns every step."""
        while self._advance():
            pass
        self.position = len(self._steps) - 1
        return self.steps

    def __iter__(self):
        """Iterate from the step after the current one to the end, moving along."""
        while (step := self.next()) is not None:
            yield step

    def __len__(self):
        return self.total

    def __getitem__(self, index):
        """Step `index` without moving (runs the walk forward if it has not got there yet)."""
        here = self.position
        step = self.seek(index)
        self.position = here
        return step

    def leaf_grads(self, index=None):
        """Snapshot {leaf name: gradient} after step `index` (default: the current step; -1 before any)."""
        index = self.position if index is None else index
        return dict(self._initial if index < 0 else self._steps[index].leaf_grads)

    def label(self, t, depth=3):
        """How a tensor is shown: its leaf name or .name; else a short expression of its named inputs
        ('s_2 @ W_s', 'W_s.T', 'gates_1[..., 3:6]', '(y_3 - d_3) ** 2'); else '<op>#<node index>'."""
        name = self._names.get(id(t)) or t.name
        if name:
            return name
        if t is self.root:
            return "loss"                                  # an unnamed loss is `loss`, as viz.draw calls it
        node = t.node
        if node is None:
            return compact(t.data.reshape(())) if t.data.size == 1 else "const"
        if depth > 0:
            expr = self._expression(node, depth)
            if expr is not None and len(expr) <= 40:
                return expr
        return f"{node.op.name}#{node.index}"

    def _expression(self, node, depth):
        parts = [self.label(t, depth - 1) for t in node.inputs]
        if any("#" in p for p in parts):
            return None
        op, infix = node.op.name, op_field(node.op, "infix")

        def wrap(p, t):              # parenthesise an infix operand unless it binds tighter: a @ b + c @ d
            named = self._names.get(id(t)) or t.name
            inner = op_field(t.node.op, "infix") if t.node is not None and not named else None
            tighter = infix in ("+", "-") and inner in ("@", "*", "/", "**")
            return f"({p})" if inner and not tighter else p

        if infix and len(parts) == 2:
            return f"{wrap(parts[0], node.inputs[0])} {infix} {wrap(parts[1], node.inputs[1])}"
        plain, parts = parts, [wrap(p, t) for p, t in zip(parts, node.inputs)]
        if op == "transpose" and node.inputs[0].ndim == 2 and node.params.get("axes") in (None, (1, 0)):
            return f"{parts[0]}.T"
        if op == "neg":
            return f"-{parts[0]}"
        if op == "getitem":
            return f"{parts[0]}[{index_text(node.params.get('index'))}]"
        return f"{op}({', '.join(plain)})"

    @staticmethod
    def _when(sender, label, receiver):
        """Where a contribution comes from, as told in 'W_s += contribution from t=2': the sender's time
        step when it differs from the receiver's; else the gate it was computed in; else its label."""
        t_send = time_of(sender)
        t_recv = time_of(receiver.node) if receiver.node is not None else None
        if t_send and t_send != t_recv:
            return t_send
        if t_send and sender.scope[-1] != t_send:
            return sender.scope[-1]                                 # e.g. forget_gate within the same step
        return f"({label})" if " " in label else label

    # -- recording one step ----------------------------------------------------------------------
    def _advance(self):
        if self._walk is None:
            return False
        try:
            raw = next(self._walk)
        except StopIteration:
            self._walk = None
            return False
        node, index = raw.node, len(self._steps)
        label = self.label(raw.output)
        edges, accs, current = [], [], self._current
        last_edge = {id(t): pos for pos, t in enumerate(node.inputs)}
        for pos, (t, c) in enumerate(zip(node.inputs, raw.input_grads)):
            kind = "const" if not t.requires_grad else "leaf" if t.node is None else "node"
            name = self.label(t)
            edges.append(Edge(pos, t, name, kind, c if kind != "const" else None))
            if c is None or kind == "const":
                continue
            key = id(t)
            if kind == "node":
                self._parts.setdefault(t.node, []).append(GradPart(index, label, c))
                if self._uses[key] < 2:
                    continue
                terms, before = [(step_of(node), c)], None
            else:
                if current is self._current:
                    current = dict(current)
                # the walk has already added this node's contributions to t.grad: after its last edge into
                # t the snapshot is a copy of t.grad; before that (a * a) it is rebuilt from the snapshot
                if pos == last_edge[key]:
                    current[name] = np.array(t.grad)
                else:
                    so_far, c_t = current[name], np.asarray(c, dtype=t.dtype)
                    current[name] = np.array(c_t) if so_far is None else so_far + c_t
                terms, before = self._terms.split(node, pos, c, raw.grad), self._initial[name]
            history = self._history.setdefault(key, [])
            for k, term in terms:
                when = f"t={k}" if k is not None and len(terms) > 1 else self._when(node, label, t)
                so_far = self._sums.get(key)
                total = self._sums[key] = np.array(term) if so_far is None else so_far + term
                history.append(when)
                accs.append(Accumulation(name, t, kind, term, total, when, len(history), self._uses[key],
                                         tuple(history), k, before, self.loss))
        self._current = current
        parts = tuple(self._parts.pop(node, ()))
        self._sums.pop(id(raw.output), None)            # an intermediate's sum is complete when it is visited
        self._steps.append(StepView(index, self.total, node, raw.output, label, raw.grad, parts,
                                    tuple(edges), tuple(accs), current, self.loss))
        if len(self._steps) == self.total:          # the last node: let the walk finish (frees the graph)
            for _ in self._walk:
                raise AssertionError("the walk visited more nodes than the graph holds")
            self._walk = None
        return True


def _check_fresh(root):
    """A graph an earlier backward() consumed cannot be walked again: say how to get a fresh one."""
    if root.node is None:
        return
    try:
        tape.nodes_newest_first(root.node, walkable=True)
    except tape.GraphError:
        name = root.name or "loss"
        raise tape.GraphError(
            f"the graph of {name} was consumed by an earlier backward(), which freed the values it saved. The "
            "stepper and viz.player run the backward walk themselves: run the forward pass again to get a fresh "
            f"{name} and pass it without calling {name}.backward() first (call zero_grad() before, so that .grad "
            "holds only this walk's terms)") from None


def _unique(name, taken):
    k = 2
    while f"{name}#{k}" in taken:
        k += 1
    return f"{name}#{k}"


def edge_contributions(root, tensor, grad=None, retain_graph=True):
    """[(when, contribution)] for every edge into `tensor` (a leaf or an intermediate), in walk order.

    These are the terms whose sum is d root / d tensor -- for a weight used at every time step, one
    term per step ('when' is the sending node's 't=<k>' scope, or None; a batched input projection's
    weight gets one term per row, see steps.StepTerms). Leaves' .grad are left as
    they were; with retain_graph=False the graph is freed afterwards.
    """
    if not isinstance(root, Tensor) or not isinstance(tensor, Tensor):
        raise TypeError(f"edge_contributions: root and tensor must be Tensors, got {type(root).__name__} and "
                        f"{type(tensor).__name__}")
    saved = _save_grads(root)
    try:
        found = []
        terms = StepTerms(tape.nodes_newest_first(root.node)) if root.node is not None else None
        for step in tape.walk(root, tape.initial_grad(root, grad), retain_graph, keep_grads=False):
            for pos, (t, c) in enumerate(zip(step.node.inputs, step.input_grads)):
                if t is tensor and c is not None:
                    found += [(None if k is None else f"t={k}", term)
                              for k, term in terms.split(step.node, pos, c, step.grad)]
        return found
    finally:
        _restore_grads(saved)


# ---- Jacobians -------------------------------------------------------------------------------------

def _save_grads(root):
    """The .grad of every leaf and retained tensor in root's graph, to put back after extra walks."""
    saved = {}
    for node in tape.nodes_newest_first(root.node) if root.node is not None else ():   # needs no values
        out = node.output                                # None: nobody holds it, so nobody reads its .grad
        if out is not None and out._retain:
            saved[id(out)] = (out, out.grad)
        for t in node.args:
            if type(t) is not tape.Node:
                saved[id(t)] = (t, t.grad)
    return saved


def _restore_grads(saved):
    for t, g in saved.values():
        t.grad = g


def jacobian(f_or_output, wrt):
    """d output / d wrt as a numpy array of shape output.shape + wrt.shape.

    `f_or_output` is either a Tensor already computed from `wrt` (leaves or intermediates of its graph,
    e.g. the hidden states s_k of an unrolled RNN), or a function called as f(*wrt) on fresh leaves made
    from `wrt`. `wrt` is a Tensor (or array) or a list/tuple of them; then a tuple of Jacobians is returned.
    One backward walk per output element (retain_graph), reading the gradient arriving at each `wrt`;
    the .grad of the graph's leaves is left untouched.
    """
    single = not isinstance(wrt, (list, tuple))
    wrt = [wrt] if single else list(wrt)
    if callable(f_or_output) and not isinstance(f_or_output, Tensor):
        wrt = [Tensor(np.array(w.data if isinstance(w, Tensor) else w), requires_grad=True) for w in wrt]
        output = f_or_output(*wrt)
    else:
        output = f_or_output
    if not isinstance(output, Tensor):
        raise TypeError(f"jacobian: expected a Tensor output, got {type(output).__name__}")
    for w in wrt:
        if not isinstance(w, Tensor):
            raise TypeError(f"jacobian: wrt must be Tensors of the output's graph, got {type(w).__name__}")
    jac = [np.zeros(output.shape + w.shape, dtype=np.result_type(output.dtype, w.dtype)) for w in wrt]
    if output.requires_grad:
        by_node = {id(w.node): k for k, w in enumerate(wrt) if w.node is not None}
        by_leaf = {id(w): k for k, w in enumerate(wrt) if w.node is None}
        saved = _save_grads(output)
        try:
            for i in np.ndindex(output.shape):
                unit = np.zeros(output.shape, dtype=output.dtype)
                unit[i] = 1
                for step in tape.walk(output, unit, retain_graph=True, keep_grads=False):
                    k = by_node.get(id(step.node))
                    if k is not None:
                        jac[k][i] = step.grad
                    for t, c in zip(step.node.args, step.input_grads):      # a leaf is its own arg
                        k = by_leaf.get(id(t))
                        if k is not None and c is not None:
                            jac[k][i] += c
        finally:
            _restore_grads(saved)
    return jac[0] if single else tuple(jac)


# ---- finite differences (the player's "check" button) ---------------------------------------------

def replay(root, replace):
    """root's value recomputed from the tape in float64, with the tensors in `replace` ({tensor: array})
    given other values. Only nodes downstream of a replaced tensor are recomputed; nothing is recorded
    and the graph is not consumed (the ops' forwards need no saved values)."""
    values = {id(t): np.asarray(v, dtype=np.float64) for t, v in replace.items()}
    dirty = set(values)
    for node, out in reversed(tape.recorded(root)):           # creation order
        if id(out) in values or not any(id(t) in dirty for t in node.inputs):
            continue
        args = [values[id(t)] if id(t) in values else _f64(t.data) for t in node.inputs]
        values[id(out)] = node.op.forward(*args, **node.params)[0]
        dirty.add(id(out))
    return values.get(id(root), _f64(root.data))


def _f64(a):
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def finite_difference(root, tensor, eps=1e-6, index=None):
    """d root / d tensor by central differences, replaying the recorded forward (see `replay`).

    `tensor` may be a leaf or any intermediate of root's graph: perturbing an intermediate means replacing
    its value and recomputing what depends on it, so the result is the gradient that arrives at that
    tensor in the backward walk. `root` must have one element. With `index`, only that element (a float).
    """
    if root.data.size != 1:
        raise ValueError(f"finite_difference: root must have one element, it has shape {root.shape}")
    base = _f64(tensor.data)

    def partial(i):
        up, down = base.copy(), base.copy()
        up[i] += eps
        down[i] -= eps
        return (float(replay(root, {tensor: up}).sum()) - float(replay(root, {tensor: down}).sum())) / (2 * eps)

    if index is not None:
        return partial(index)
    out = np.zeros(base.shape)
    for i in np.ndindex(base.shape):
        out[i] = partial(i)
    return out
