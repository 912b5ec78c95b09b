"""From the tape to a view: the vertices, edges and clusters of a picture, with gradient norms. No graphviz here.

`build` reads `tinygrad_rnn.graph(root)` once (`_plan`) and decides where each tape node goes:
- its step is the `t=k` of its scope; a node without one that only combines results of one step (or of
  two neighbouring ones, like a running sum of losses) belongs to that step too (E_3 = ½‖y_3 − d_3‖²).
  Other nodes are drawn before the steps (the input projection of all steps, linear(x, W_ih, b_ih)) or
  after them (the stacked outputs and what follows), in clusters named by their scope;
- ops detail: one vertex per op, named results (s_1, h_2) labelled with their name; cells detail: the ops
  of one cell application (scope `<module>/layer<k>/t=<step>`) collapse into one box with ports;
  long sequences: the middle steps collapse into one `t=4 … t=97` vertex.
Parallel edges that a collapse creates are merged by summing their gradient arrays, so every drawn edge
carries the exact gradient that flowed along it.

A tensor made outside the steps and used at several steps — a weight, x W_ih^T + b_ih for all steps —
is shared: drawn as a dashed copy inside each step (shared="copies", the default), so that no edge joins
two steps and every step is laid out alone and alike, or once with an edge to each use (shared="edges").
Symmetrically, a node after the steps that gathers results of several steps (the stacked outputs) gets a
dashed stub inside each step when copies are drawn. `View.weights` lists, per shared tensor that requires
grad, the norm of its contribution at each step and the norm of their sum (its .grad). Vertex and edge
ids are stable, so the HTML player can find them in the SVG; `tape` on each vertex and edge says which tape
nodes (and input positions) it shows.
"""
import hashlib
import operator
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from tinygrad_rnn.core.mode import time_step
from tinygrad_rnn.core.ops import index_text, op_field
from tinygrad_rnn.core.lazy import Sum, dense
from tinygrad_rnn.core.tape import FREED, edge_term, materialize, nodes_newest_first
from tinygrad_rnn.teach.steps import StepTerms

from .text import unicode_name, visible

STATE = re.compile(r"^(.+?)_(\d+)$")          # s_1, h_12, c_3: a tensor and its step
MAX_SCOPE_DEPTH = 64     # scopes nested deeper than this are refused before anything is drawn
OPS_LIMIT = 150          # detail="auto" draws ops up to this many op vertices
OPS_BUDGET = 240         # detail="ops" draws at most 6 steps, fewer when that would pass this many op vertices


@dataclass
class Vertex:
    id: str
    kind: str                   # op | param | input | const | copy | stub | cell | elided
    label: str                  # op symbol or cell title; tensor name for leaves and copies
    cluster: tuple = ()         # cluster ids, outermost first
    name: str = ""              # the name of an op's result (s_1, h_2), "" if unnamed
    shape: tuple = None
    grad: float = None          # norm of the gradient accumulated here; None: nothing to show
    value: str = None           # values=True: the tensor's numbers, abbreviated
    note: str = ""              # a second line: "t=2 use", "94 steps hidden"
    group: str = None           # a state's path within one step shares a group (dot draws it in line)
    inputs: list = field(default_factory=list)    # cells: (port, key, tensor name) per input tensor
    outputs: list = field(default_factory=list)   # cells: (port, key, tensor name) per output tensor
    tape: list = field(default_factory=list)      # indices of the tape nodes this vertex shows
    step: int = None
    layer: str = ""             # the scope above `t=k` ("lstm/layer0"): which spine a state belongs to
    after: bool = False         # an op after the steps that depends on them (outputs, the loss)
    tip: tuple = ()             # the hover text's lines: name, the gradient's norm and first entries, shape


@dataclass
class Edge:
    id: str
    src: str
    dst: str
    kind: str = "data"          # data | weight (from a leaf that requires grad) | through (see _pass_through)
    src_port: str = None
    dst_port: str = None
    grad: float = None          # norm of the gradient sent along the edge (of the sum, if merged)
    label: bool = False         # print the norm (False where the source vertex already shows it)
    tape: list = field(default_factory=list)      # (node index, input position) pairs drawn by this edge
    array: object = field(default=None, repr=False)
    tip: tuple = ()


@dataclass
class Cluster:
    id: str
    label: str
    kind: str                   # step | scope | gate | before | after | elided
    step: int = None


@dataclass
class WeightRow:
    """A shared tensor: ‖contribution‖ per step (keys are View.columns) and ‖their sum‖, which is ‖.grad‖."""
    name: str
    vertex: str                 # its vertex, or the prefix of its copies' ids
    terms: dict
    total: float
    grad: float                 # ‖.grad‖ as the tensor holds it (a leaf may hold earlier passes too)


@dataclass
class View:
    vertices: dict              # id -> Vertex, in drawing order
    edges: list
    clusters: dict              # id -> Cluster
    steps: list                 # the steps drawn
    elided: tuple               # (first, last) hidden step, or None
    detail: str                 # ops | cells
    shared: str                 # edges | copies
    status: str                 # grads | no_backward | not_kept | off
    weights: list               # WeightRow per shared tensor that requires grad
    columns: list               # column labels of the weights table
    norm_range: tuple           # (smallest, largest) non-zero edge norm, or None
    root: str
    notes: list = field(default_factory=list)


# Where tg.LSTM / tg.GRU (PyTorch's convention, which we keep) differ from the seed's figures (colah's), said
# beside every picture and page that shows those gates. Unicode subscripts (gₜ, hₜ₋₁): one run of text, which
# dot's SVG places right in a browser (a <SUB> is a text of its own, placed by dot's guess of the font's widths).
CONVENTIONS = {
    "lstm": ("LSTM as in PyTorch: gates i, f, g, o. The candidate gₜ (box “cell”) is the seed's and colah's C̃ₜ; "
             "the cell state cₜ is their Cₜ."),
    "gru": ("GRU as in PyTorch: hₜ = (1 − zₜ) ⊙ nₜ + zₜ ⊙ hₜ₋₁, with the reset gate applied after the matrix, "
            "rₜ ⊙ (hₜ₋₁ Wₕₙᵀ + bₕₙ). The seed's (colah's) figure writes hₜ = (1 − zₜ) ⊙ hₜ₋₁ + zₜ ⊙ h̃ₜ with "
            "rₜ ⊙ hₜ₋₁ before the matrix: its zₜ is our 1 − zₜ, its h̃ₜ our nₜ."),
}


def conventions(scope_parts):
    """The CONVENTIONS that apply to a graph whose scopes hold these parts (gate scope names)."""
    parts = set(scope_parts)
    found = []
    if "forget_gate" in parts:
        found.append(CONVENTIONS["lstm"])
    if parts & {"update_gate", "reset_gate", "candidate"}:
        found.append(CONVENTIONS["gru"])
    return found


def slug(text, limit=48):
    """An id part from any text: letters, digits and `_`; a long one is cut and told apart by a hash of the whole."""
    text = str(text)
    out = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "x"
    if len(out) > limit:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        out = f"{out[:limit - 11]}_{digest}"
    return out


def norm(a):
    return None if a is None else float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


def _where(scope):
    """(step, scope parts before `t=k`, parts after); step is None when the scope has no `t=k`."""
    at = time_step(scope)
    return (None, scope, ()) if at is None else (at[0], scope[:at[1]], scope[at[1] + 1:])


def _constant(t):
    """A number met in an expression (1 - z): folded into its op's label instead of drawn."""
    return t.node is None and not t.requires_grad and t.name is None and t.data.size <= 1


def _status(root, grads):
    node = root.node
    if not grads:
        return "off"
    if node.grad is not None:
        return "grads"
    return "not_kept" if node.saved is FREED else "no_backward"


def build(root, detail="auto", grads=True, values=False, shared="auto", max_steps=None, reading=None):
    """The view of the graph that produced `root` (see the module docstring), made in four passes over the
    tape: where each node goes (_plan), a vertex per op (_op_vertices), shared tensors and leaves
    (_shared_vertices), edges (_edges); then the edges' labels and the state spines.
    reading: what `read(root)` returned, to build several views of one graph reading its tape once."""
    if detail not in ("auto", "ops", "cells") or shared not in ("auto", "edges", "copies"):
        raise ValueError(f"draw: detail must be auto|ops|cells and shared auto|edges|copies, "
                         f"got detail={detail!r}, shared={shared!r}")
    p = _plan(reading or read(root), root, detail, grads, shared, max_steps)
    p.values = values
    _op_vertices(p)
    _note_padded_steps(p)
    _note_changed_leaves(p, root)
    weights, columns = _shared_vertices(p)
    edges = _edges(p)
    _label_edges(edges, p.vertices)
    norms = [e.grad for e in edges if e.grad]
    view = View(p.vertices, edges, p.clusters, p.drawn, p.elided, p.detail, p.shared, p.status, weights, columns,
                (min(norms), max(norms)) if norms else None, p.at[root.node.index], p.notes)
    _spines(view)
    return view


def _note_changed_leaves(p, root):
    """A leaf changed after the forward (an optimizer step, load_state_dict) while backward(keep_grads=True)
    kept the graph's values: the picture shows the leaf's new values beside the forward's activations."""
    changed = {id(t): t for n in p.tape for t in n.args if getattr(t, "_changed_at", -1) > root.node.index}
    if changed:
        names = ", ".join(describe(t) for t in list(changed.values())[:4]) + (", ..." if len(changed) > 4 else "")
        p.notes.append(f"{names} changed after this graph was recorded (an optimizer step or load_state_dict): the "
                       "gradients drawn are the forward's, but a value shown for them is the new one")


@dataclass
class Reading:
    """The tape of one graph read once (`read`); every view of the graph is built from it."""
    tape: list
    where: dict                 # node index -> _where(scope)
    users: dict                 # node index -> [(consumer, input position)]
    leaves: dict                # id(leaf) -> (leaf, [(consumer, input position)])
    step: dict                  # node index -> its step, explicit or inferred (None: before/after the steps)
    after: dict                 # node index -> comes after some step
    through: dict               # see _pass_through
    gathers: set
    sums: dict = field(default_factory=dict)    # (id(tensor), show) -> its gradient's total, terms by step;
                                                # "splitter": the StepTerms of the graph


@dataclass
class _Pass(Reading):
    """What the passes of `build` share: the tape as read (a Reading, its `sums` shared by every view of the
    graph), what is drawn, what the passes make."""
    status: str = None
    show: bool = False          # gradients are drawn
    detail: str = None
    shared: str = None
    hidden: set = None          # steps collapsed into the elided block
    drawn: list = None
    elided: tuple = None
    layered: bool = False       # several layers' steps: a scope cluster per layer inside each step
    values: bool = False
    vertices: dict = field(default_factory=dict)
    clusters: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    at: dict = field(default_factory=dict)            # tape node index -> vertex id
    use_vertex: dict = field(default_factory=dict)    # (id(tensor), consumer index) -> the vertex for that use
    shared_ids: set = field(default_factory=set)


def read(root):
    """Read the graph that produced `root`: its nodes in execution order, each node's scope and step, who
    uses what. Scopes nested deeper than MAX_SCOPE_DEPTH are refused first, before any value is recomputed."""
    if getattr(root, "_node", None) is None:
        raise ValueError("draw: this tensor was not produced by recorded ops (is it a leaf? did some input "
                         "have requires_grad=True, outside no_grad()?)")
    tape = nodes_newest_first(root.node)        # the structure only: no value recomputed yet
    _check_scope_depth(tape)
    materialize(root.node, tape)
    tape.reverse()
    where = _wheres(tape)
    users = defaultdict(list)
    leaves = {}
    for n in tape:
        for pos, t in enumerate(n.inputs):
            if t.node is not None:
                users[t.node.index].append((n, pos))
            elif not _constant(t):
                leaves.setdefault(id(t), (t, []))[1].append((n, pos))
    step, after = _layout_steps(tape, where, users)
    through, gathers = _pass_through(tape, step, users)
    return Reading(tape, where, users, leaves, step, after, through, gathers)


def _check_scope_depth(nodes):
    """Refuse scopes nested deeper than MAX_SCOPE_DEPTH: every vertex would carry the whole path, and the
    work (and memory) would grow with nodes x depth."""
    deepest = max(nodes, key=lambda n: len(n.scope))
    if len(deepest.scope) > MAX_SCOPE_DEPTH:
        shown = visible("/".join(deepest.scope[:3]) + "/…/" + "/".join(deepest.scope[-2:]))
        raise TooDeep(f"draw: {deepest.op.name} (node #{deepest.index}) is inside {len(deepest.scope):,} nested "
                      f"scopes ({shown}); viz draws at most {MAX_SCOPE_DEPTH} levels (viz.view.MAX_SCOPE_DEPTH): "
                      "enter fewer nested tinygrad_rnn.scope(...) blocks")


class TooDeep(ValueError):
    """Scopes nested too deep to draw."""


def _wheres(tape):
    """node index -> _where(its scope), read once per scope (the nodes recorded in one scope share its tuple)."""
    where, seen = {}, {}
    for n in tape:
        scope = n.scope
        w = seen.get(id(scope))
        if w is None:
            w = seen[id(scope)] = _where(scope)
        where[n.index] = w
    return where


def _plan(r, root, detail, grads, shared, max_steps):
    """Which steps are drawn, at which detail, shared tensors as edges or copies."""
    tape, where, step = r.tape, r.where, r.step
    status = _status(root, grads)
    p = _Pass(**vars(r), status=status, show=status == "grads")
    steps = sorted(set(step.values()) - {None})

    def elision(limit):
        if len(steps) < limit + 2:          # hiding a single step would not save anything
            return set()
        head = (limit + 1) // 2
        return set(steps[head:len(steps) - (limit - head)])

    if detail == "auto":
        hidden = elision(max_steps or 6)
        detail = "ops" if not steps or sum(step[n.index] not in hidden for n in tape) <= OPS_LIMIT else "cells"
    per_step = sum(1 for w in where.values() if w[0] is not None) / max(len(steps), 1)
    p.hidden = elision(max_steps or (max(2, min(6, int(OPS_BUDGET // max(per_step, 1)))) if detail == "ops" else 8))
    p.detail = detail
    p.drawn = [s for s in steps if s not in p.hidden]
    p.elided = (min(p.hidden), max(p.hidden)) if p.hidden else None
    p.shared = "copies" if shared == "auto" else shared     # a copy per step: the steps stay apart (dot.to_dot)
    p.layered = len({where[n.index][1] for n in tape if where[n.index][0] is not None}) > 1
    return p


def _cluster_path(p, s, outer, inner, phase):
    """The clusters a vertex sits in (outermost first), made on first use: its step, its layer's scope (when
    several layers are drawn) and its gate; or, outside the steps, the `before`/`after` cluster of its scope."""
    clusters = p.clusters
    if s is None:
        if not outer:
            return ()
        cid = f"cluster_{phase}_" + slug("/".join(outer))
        clusters.setdefault(cid, Cluster(cid, "/".join(outer), phase))
        return (cid,)
    path = [f"cluster_t{s}"]
    clusters.setdefault(path[0], Cluster(path[0], f"t={s}", "step", s))
    for part, kind in ([("/".join(outer), "scope")] if outer and p.layered else []) + [(q, "gate") for q in inner]:
        path.append(f"{path[-1]}_{slug(part)}")
        clusters.setdefault(path[-1], Cluster(path[-1], part.replace("_", " "), kind, s))
    return tuple(path)


def _op_vertices(p):
    """Pass 1: a vertex for every op (or its cell, or the elided block)."""
    vertices, hidden = p.vertices, p.hidden
    if hidden:
        p.clusters["cluster_elided"] = Cluster("cluster_elided", "", "elided")
        vertices["elided"] = Vertex("elided", "elided", f"t={p.elided[0]} … t={p.elided[1]}", ("cluster_elided",),
                                    note=f"{len(hidden)} steps hidden")
    for n in p.tape:
        s, (explicit, outer, inner) = p.step[n.index], p.where[n.index]
        if s in hidden:
            vid = "elided"
        elif p.detail == "cells" and explicit is not None:
            vid = "cell_" + slug("/".join(outer + (f"t{s}",)))
            if vid not in vertices:
                vertices[vid] = Vertex(vid, "cell", "/".join(outer) or "cell", _cluster_path(p, s, (), (), ""),
                                       step=s, layer="/".join(outer))
        else:
            vid, out = f"op{n.index}", n.output
            vertices[vid] = Vertex(
                vid, "op", _op_label(n), _cluster_path(p, s, outer, inner, "after" if p.after[n.index] else "before"),
                out.name or ("loss" if n is p.tape[-1] else ""), out.shape, norm(n.grad) if p.show else None,
                _value(out) if p.values and out.name else None, step=s, layer="/".join(outer),
                after=s is None and p.after[n.index],
                tip=tip(describe(out), out.shape, n.grad if p.show else None))
        p.at[n.index] = vid
        vertices[vid].tape.append(n.index)


def _note_padded_steps(p):
    """A variable-length batch (a PackedSequence) computes step t for the sequences at least t long only: a step
    whose named results have fewer rows than the longest batch says how many sequences it leaves padded."""
    rows = defaultdict(int)
    for n in p.tape:
        s = p.step[n.index]
        in_step = time_step(n.scope) is not None       # not a layer's h_n stack or output, made after its steps
        if s in p.drawn and in_step and n.output.name and len(n.output.shape) >= 2:
            rows[s] = max(rows[s], n.output.shape[0])
    batch = max(rows.values(), default=0)
    for s, r in rows.items():
        cluster = p.clusters.get(f"cluster_t{s}")
        if r < batch and cluster is not None:
            cluster.label = f"t={s}: {r} of {batch} sequences ({batch - r} padded, not reached)"


def _shared_vertices(p):
    """Pass 2: shared tensors and leaves — one vertex, or a dashed copy per step. Returns the weights table
    (a WeightRow per shared tensor that requires grad) and its column labels."""
    step, users, show, hidden, elided = p.step, p.users, p.show, p.hidden, p.elided
    uses = {id(t): u for t, u in p.leaves.values()}     # candidates: leaves and results made outside steps
    made_outside = [n.output for n in p.tape if step[n.index] is None and users[n.index]]
    for out in made_outside:
        uses[id(out)] = [(c, pos) for c, pos in users[out.node.index] if (id(out), c.index) not in p.through]
    weights, columns = [], [f"t={s}" for s in p.drawn]
    if hidden:
        columns.insert(sum(1 for s in p.drawn if s < elided[0]), f"t={elided[0]}…{elided[1]}")
    taken = defaultdict(int)
    sums = p.sums
    if "splitter" not in sums:
        sums["splitter"] = StepTerms(p.tape)
    for t in [t for t, _ in p.leaves.values()] + made_outside:
        by_step = defaultdict(list)
        for n, pos in uses[id(t)]:
            by_step[step[n.index]].append((n, pos))
        is_shared = sum(1 for s in by_step if s is not None) > 1
        if t.node is not None and not is_shared:
            continue                        # an op result used at one step: an ordinary edge
        p.shared_ids.add(id(t))
        kind = "param" if t.requires_grad else ("input" if t.name else "const")
        base = slug(t.name or kind) if t.node is None else f"op{t.node.index}"
        taken[base] += 1
        lid = (f"leaf_{base}" if t.node is None else base) + (f"_{taken[base]}" if taken[base] > 1 else "")
        label = describe(t)
        contribution = {s: _sum(u) for s, u in by_step.items() if s not in hidden} if show else {}
        if (id(t), show) not in sums:       # the same in every view of the graph: summed once
            sums[id(t), show] = (_sum(uses[id(t)]) if show else None, _terms_by_step(
                uses[id(t)], step, sums["splitter"], show, lazy=True) if t.node is None and t.requires_grad else None)
        total, terms = sums[id(t), show]
        if terms is not None:               # the table promises .grad: leaves only
            if sum(1 for s in terms if s is not None) > 1:
                weights.append(_weight_row(label, lid, t, terms, terms, total, hidden, elided, show))
        if t.node is None and total is not None and t.grad is not None and not np.allclose(
                total, t.grad, rtol=1e-4, atol=1e-7):
            p.notes.append(f"{label}.grad also holds a gradient from before this backward (an earlier backward() "
                           "without zero_grad()): the numbers drawn are this backward's terms only")
        for s, group in by_step.items():
            copy = is_shared and p.shared == "copies" and s is not None
            if s in hidden or not copy and t.node is not None:
                continue
            vid = f"{lid}_t{s}" if copy else lid
            if vid not in p.vertices:
                where = _common([p.vertices[p.at[n.index]].cluster for n, _ in group]) if copy or not is_shared else ()
                array = (contribution.get(s) if copy else total) if t.requires_grad and show else None
                p.vertices[vid] = Vertex(vid, "copy" if copy else kind, label, where, shape=t.shape, grad=norm(array),
                                         value=_value(t) if p.values else None, note=f"t={s} use" if copy else "",
                                         step=s if copy else None,
                                         tip=tip(label + (f" (its use at t={s})" if copy else ""), t.shape, array))
            for n, _ in group:
                p.use_vertex[id(t), n.index] = vid
    return weights, columns


def _edges(p):
    """Pass 3: an edge per input of every drawn op, merged (their gradients summed) when a collapse makes
    them parallel."""
    step, vertices, at, show = p.step, p.vertices, p.at, p.show
    edges = {}
    collects = {n.index for n in p.tape if step[n.index] is None and n.index not in p.gathers
                and len({step[t.node.index] for t in n.inputs if t.node is not None} - {None}) > 1}
    for n in _edge_heads(p):
        dst = at[n.index]
        if n.index in p.gathers:
            continue                        # drawn as a dashed edge into each step (below)
        for pos, t in enumerate(n.inputs):
            if dst == "elided" and (t.node is None or at[t.node.index] == "elided"):
                continue                    # the quick way through the hidden steps
            kind, ref, g = "data", (n.index, pos), edge_term(n, pos) if show else None
            if (id(t), n.index) in p.through:   # h_t -> (stack @ W + b)[t-1] drawn as h_t -> [t-1]
                gather, k = p.through[id(t), n.index]
                t, kind, ref = gather.inputs[k], "through", (gather.index, k)
                g = edge_term(gather, k) if show else None
            src = p.use_vertex.get((id(t), n.index))
            if src is None and t.node is None:
                continue                    # a folded constant, or a use inside the hidden steps
            src = src or at[t.node.index]
            if src == dst or dst == "elided" and id(t) in p.shared_ids:
                continue                    # inside one cell or the elided block; the table has hidden uses
            dst = at[n.index]
            if n.index in collects and p.shared == "copies" and vertices[src].cluster[:1] != vertices[dst].cluster[:1]:
                dst = f"{at[n.index]}_from_{src}"   # a stub in the source's step instead of a long edge
                if dst not in vertices:
                    vertices[dst] = Vertex(dst, "stub", describe(n.output), vertices[src].cluster,
                                           tape=[n.index], step=vertices[src].step)
            _add_edge(edges, vertices, t, src, dst, pos, kind, g, ref)
    return list(edges.values())


def _edge_heads(p):
    """The nodes whose input edges may be drawn, in tape order: every node outside the hidden steps, and
    the hidden ones that read a node outside them (the edges into the elided block). The work grows with
    the drawn steps and their uses, not with the hidden steps."""
    at, users = p.at, p.users
    shown = [n for n in p.tape if at[n.index] != "elided"]
    if not p.hidden:
        return shown
    entered = {c.index: c for n in shown for c, _ in users[n.index] if at[c.index] == "elided"}
    return sorted(shown + list(entered.values()), key=_index)


_index = operator.attrgetter("index")


def _add_edge(edges, vertices, t, src, dst, pos, kind, g, ref):
    """Draw input `t` (position `pos`) as an edge src -> dst, or merge it into the parallel edge already there."""
    if t.node is None and t.requires_grad:
        kind = "weight"
    src_port = dst_port = None
    if vertices[src].kind in ("cell", "elided"):     # the elided block's port names the state it hands on
        src_port = _port(vertices[src].outputs, id(t), describe(t), "out")
    if vertices[dst].kind == "cell" and vertices[src].kind not in ("copy", "param"):
        dst_port = _port(vertices[dst].inputs, id(t), describe(t), "in")
    key = (id(t) if src != "elided" else 0, src, dst, pos if vertices[dst].kind == "op" else None)
    e = edges.get(key)
    if e is None:
        eid = f"e_{src}" + (f".{src_port}" if src_port else "") + f"_{dst}" + (f"_{pos}" if key[3] is not None else "")
        e = edges[key] = Edge(eid, src, dst, kind, src_port, dst_port)
    e.array = _plus(e.array, g)
    e.tape.append(ref)


def _label_edges(edges, vertices):
    """Each edge's norm, printed only where the source vertex does not already show the same number."""
    out_degree = defaultdict(int)
    for e in edges:
        e.array = _dense(e.array)
        e.grad = norm(e.array)
        e.tip = tip(f"{vertices[e.src].name or vertices[e.src].label} → {vertices[e.dst].name or vertices[e.dst].label}",
                    None if e.array is None else np.shape(e.array), e.array)
        if e.grad is not None:
            out_degree[e.src] += 1
    for e in edges:
        e.label = e.grad is not None and (out_degree[e.src] > 1 or vertices[e.src].grad is None)


GATHERING_OPS = ("stack", "concat")     # a layer's outputs of several steps, gathered after them (even two)


def _layout_steps(tape, where, users):
    """Per node index: its step (explicit or inferred) and whether it comes after some step."""
    step, after = {}, {}
    for n in tape:
        s, ins, late = where[n.index][0], set(), False
        for t in n.inputs:
            if t.node is not None:
                p = t.node.index
                ins.add(step[p])
                late = late or after[p]
        ins.discard(None)
        if s is None and ins and max(ins) - min(ins) <= 1 and not (len(ins) > 1 and n.op.name in GATHERING_OPS):
            s = max(ins)                    # e.g. the loss term of step t, or a running sum over steps
        step[n.index] = s
        after[n.index] = bool(ins) or late
    for n in reversed(tape):                # made before the steps but used only after them: after
        used = users[n.index]
        if step[n.index] is None and used and all(step[u.index] is None and after[u.index] for u, _ in used):
            after[n.index] = True
    return step, after


def _pass_through(tape, step, users):
    """Find stacks of per-step results (h_1..h_T) that reach the steps again only through row-wise ops and
    a slice per step — a multi-layer RNN's next layer: linear(stack(h), W_ih, b), then [t-1] at step t.
    Returns {(id(sliced tensor), slicing node index): (stack node, k)} and the stacks' node indices;
    the edge h_k -> slice then carries the stack's gradient for input k, exactly what flowed that way."""
    through, gathers = {}, set()
    for g in tape:
        if g.op.name != "stack" or step[g.index] is not None or g.params.get("axis", 0) != 0 or any(
                t.node is None or step[t.node.index] is None for t in g.inputs):
            continue
        found, frontier, ok = {}, [g], True
        while frontier and ok:
            m = frontier.pop()
            for c, pos in users[m.index]:
                index = c.params.get("index")
                if step[c.index] is None and pos in op_field(c.op, "rowwise"):
                    frontier.append(c)
                elif (step[c.index] is not None and c.op.name == "getitem" and isinstance(index, (int, np.integer))
                      and 0 <= index < len(g.inputs)):
                    found[id(m.output), c.index] = (g, int(index))
                else:
                    ok = False
        if ok and found:
            through.update(found)
            gathers.add(g.index)
    return through, gathers


def describe(t, depth=2):
    """A short name for a tensor: its name, or an expression of its inputs' names (W_hhᵀ, x @ Wᵀ + b)."""
    n = t.node
    if t.name:
        return t.name
    if n is None:
        return "const" if not t.requires_grad else "leaf"
    if n.op.name == "transpose":
        return describe(n.inputs[0], depth) + "ᵀ"
    if depth and n.op.name == "linear":          # linear(x, W, b) reads as x @ Wᵀ + b
        x, w, *b = (describe(x, depth - 1) for x in n.inputs)
        text = f"{x} @ {w}ᵀ" + "".join(f" + {v}" for v in b)
        if len(text) <= 60:                       # room for torch's names: x @ weight_ih_l0_reverseᵀ + ...
            return text
    if depth and op_field(n.op, "infix") and len(n.inputs) == 2:
        text = f" {op_field(n.op, 'symbol')} ".join(describe(x, depth - 1) for x in n.inputs)
        if len(text) <= 40:
            return text
    return f"{n.op.name} #{n.index}"


def tip(title, shape, grad):
    """The hover text of a vertex or an edge: what it is, then the gradient it holds or carried, exactly."""
    lines = [title]
    if grad is None:
        lines.append("no gradient")
    else:
        g = np.asarray(grad, dtype=np.float64)
        first = ", ".join(f"{x:.8g}" for x in g.ravel()[:4]) + (", …" if g.size > 4 else "")
        lines += [f"gradient norm {float(np.linalg.norm(g.ravel())):.10g}", f"gradient [{first}]"]
    if shape is not None:
        lines.append("shape " + ("×".join(map(str, shape)) or "scalar"))
    return tuple(lines)


VALUE_WIDTH, VALUE_ROWS = 36, 4      # a value printed on a picture: characters per line, lines


def _value(t):
    """A tensor's value as a picture prints it: numpy's rows on their own lines (numpy wraps a long row between
    numbers), at most VALUE_ROWS lines."""
    text = np.array2string(np.asarray(t.data), precision=2, threshold=9, edgeitems=1, separator=" ",
                           max_line_width=VALUE_WIDTH)
    lines = [line for line in text.splitlines() if line.strip()]     # no blank line between 3-D blocks
    more = len(lines) - (VALUE_ROWS - 1)
    return "\n".join(lines if more <= 1 else lines[:VALUE_ROWS - 1] + [f"⋮ {more} more lines"])


def _index_text(index):
    return "[" + index_text(index).replace("...", "…") + "]"


def _op_label(n):
    if n.op.name == "getitem":
        return _index_text(n.params.get("index"))
    sym = op_field(n.op, "symbol")
    consts = [f"{t.data.item():g}" if _constant(t) else None for t in n.inputs]
    if len(consts) == 2 and any(consts):               # 1 − z₃ (its other operand named), else 1 −
        a, b = (c or _operand_name(t) for t, c in zip(n.inputs, consts))
        return f"{a} {sym} {b}".strip()
    return sym


def _operand_name(t):
    """An operand's name in an op's label: z₃ for z_3, the name itself without a subscript, else nothing."""
    if not t.name:
        return ""
    return unicode_name(t.name) or (visible(t.name) if "_" not in t.name else "")


def _plus(total, term):
    """total + term for gradient terms as the walk kept them (edge_term): a slice's gradient adds only its
    positions, so summing the T slices of one (T, ...) tensor costs O(T), not T dense arrays of its size."""
    if term is None:
        return total
    if type(term) is Sum:
        term = term.dense()                 # a finished sum adds as its array
    if total is None:
        return term
    if type(total) is Sum:
        total.add(term)
        return total
    return Sum(total, term)


def _dense(total):
    return None if total is None else dense(total)


def _sum(uses):
    total = None
    for n, pos in uses:
        total = _plus(total, edge_term(n, pos))
    return _dense(total)


def _terms_by_step(uses, step, splitter, show, lazy=False):
    """{step: that step's term} of a leaf's gradient: the contribution of each use at its step, and a batched
    input projection's (x @ W_ihᵀ + b_ih for all steps) split into its rows' terms (teach.steps.StepTerms).
    lazy: the terms as _plus left them (_dense makes each an array), so that hidden steps cost no arrays."""
    terms = {}
    for n, pos in uses:
        g = edge_term(n, pos) if show else None
        split = splitter.steps(n, pos)
        if split is None:
            pieces = [(step[n.index], g)]
        elif g is None:
            pieces = [(s, None) for s in split]
        else:
            pieces = splitter.split(n, pos, dense(g), n.grad)
        for s, term in pieces:
            terms[s] = _plus(terms.get(s), term)
    return terms if lazy else {s: _dense(term) for s, term in terms.items()}


def _weight_row(label, lid, t, by_step, contribution, total, hidden, elided, show):
    terms, middle = {}, None
    for s in sorted(x for x in by_step if x is not None):
        c = contribution.get(s)
        if s not in hidden:
            terms[f"t={s}"] = norm(_dense(c))
        else:
            middle = _plus(middle, c)
    if hidden:
        terms[f"t={elided[0]}…{elided[1]}"] = norm(_dense(middle))
    grad = (t.grad if t.node is None else t.node.grad) if show else None
    return WeightRow(label, lid, terms, norm(total), norm(grad))


def _common(paths):
    """The deepest cluster that holds every path."""
    first, k = paths[0], 0
    while k < len(first) and all(len(p) > k and p[k] == first[k] for p in paths):
        k += 1
    return first[:k]


def _port(ports, key, name, prefix):
    """The port of a cell for one tensor (made on first use): (port id, key, tensor name)."""
    for port in ports:
        if port[1] == key:
            return port[0]
    ports.append((f"{prefix}{len(ports)}", key, name))
    return ports[-1][0]


def _spines(view):
    """One dot `group` along each recurrent state's path within a step (h_1 -> ... -> h_2): its vertices are
    drawn in a line. A state is a named result used at the next step. Groups stay inside one step: groups
    spanning clusters, together with the invisible edges between steps, make dot fail ("trouble in init_rank")."""
    vs = view.vertices
    if view.detail == "cells":
        return
    chains = defaultdict(list)
    for v in vs.values():
        m = STATE.match(v.name) if v.kind == "op" and v.step is not None else None
        if m:
            chains[m[1], v.layer].append((v.step, v.id))
    nexts = defaultdict(set)
    adj = defaultdict(list)
    for e in view.edges:
        adj[e.src].append(e.dst)
        nexts[e.src].add(vs[e.dst].step)
    starts = [v.id for v in vs.values() if v.kind == "input" and STATE.match(v.label)]
    for (state, layer), members in sorted(chains.items(), key=lambda kv: kv[0][0] not in ("c", "s")):
        members.sort()
        chain = [v for s, v in members if s + 1 in nexts[v] or s == members[-1][0]]
        if len(chain) < 2:
            continue
        paths = [p for p in (_path(adj, s, chain[0]) for s in starts if STATE.match(vs[s].label)[1] == state) if p]
        if paths:
            chain.insert(0, min(paths, key=len)[0])
        for a, b in pairwise(chain):
            for vid in _path(adj, a, b):
                v = vs[vid]
                if v.group is None and v.step is not None:
                    v.group = slug(f"{state}_{layer}_t{v.step}")


def _path(adj, a, b, limit=500):
    """The shortest path a -> b along edges (vertex ids, both ends included), or [] if none is near."""
    came, queue = {a: None}, deque([a])
    while queue and len(came) < limit:
        v = queue.popleft()
        if v == b:
            path = []
            while v is not None:
                path.append(v)
                v = came[v]
            return path[::-1]
        for w in adj[v]:
            if w not in came:
                came[w] = v
                queue.append(w)
    return []
