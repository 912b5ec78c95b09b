"""The folded (rolled) view: the recorded unroll drawn as its cell once per loop, the state looping back.

`fold(root)` reads the same tape as view.build and folds the time steps away:
- an op inside the steps is keyed by (scope above `t=k`, scope below it, op, how many such ops came before it
  in its step): the k-th matmul of `seed/t=5` and of `seed/t=6` share a key. A key met at two or more steps
  is part of the loop body and drawn once, as its op at the last step it was met (`h_12` is labelled `h_t`);
  a key met at one step only (the seed's read-out y_3 = s_3 W_y, inside `t=3`) is drawn outside the loop;
- one loop per scope above `t=k` (a layer, a direction): a cluster saying how many steps it ran;
- an edge from one step into the next (h_{t-1} -> step t) is the loop edge, labelled "h_t: ×T=12 steps";
- a leaf used at every step (a weight) is drawn once with ‖.grad‖, the sum of its per-step terms, and the
  spread of the terms' norms over t (min, max, a sparkline); per-step leaves of one use (x_1..x_T) are drawn
  once as "x_t (t=1..T)"; an initial state (h_0) feeds the loop with an edge marked "t=1".
Ops before and after the steps (the batched input projection, the loss) are drawn as in the unrolled view.
Numbers on vertices and edges inside the loop are those of the step drawn, the last one. The size of the
picture does not depend on the number of steps. `to_dot` writes it with dot.py's vertex and edge styles.
"""
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.teach.steps import StepTerms

from .view import (STATE, Cluster, Edge, Vertex, _constant, _layout_steps, _op_label, _status, _terms_by_step,
                   _where, describe, norm, slug, tip)

SPARK = "▁▂▃▄▅▆▇█"
MAX_TIP_TERMS = 12       # per-step terms listed in a weight's hover text
SPARK_WIDTH = 16         # a sparkline has at most this many characters (a longer loop: the max of each bucket)


@dataclass
class LoopEdge(Edge):
    caption: str = ""           # the loop's "h_t: ×T=12 steps", or "t=1" on an edge met at some steps only
    loop: bool = False          # from one step into the next


@dataclass
class Spread:
    """A weight used at several steps: ‖.grad‖ and its per-step terms' norms (keys: steps)."""
    name: str
    vertex: str
    total: float                # ‖sum of this backward's terms‖, which is ‖.grad‖ after one backward
    grad: float                 # ‖.grad‖ as the tensor holds it
    terms: dict                 # step -> ‖term‖

    def extreme(self, pick):
        """(step, norm) of the smallest (pick=min) or largest (pick=max) term."""
        return pick(self.terms.items(), key=lambda kv: kv[1])


@dataclass
class Folded:
    vertices: dict              # id -> Vertex
    edges: list                 # LoopEdge
    clusters: dict              # id -> Cluster (kinds: loop, gate, before, after)
    loops: dict                 # loop cluster id -> (scope above t=k, first step, last step, steps run)
    weights: list               # Spread per weight used at several steps
    status: str
    root: str
    norm_range: tuple
    notes: list = field(default_factory=list)


def fold(root, grads=True):
    """The folded view of the graph that produced `root` (see the module docstring)."""
    if getattr(root, "_node", None) is None:
        raise ValueError("draw(folded=True): this tensor was not produced by recorded ops (is it a leaf?)")
    tape = tg.graph(root)
    where = {n.index: _where(n.scope) for n in tape}
    if not any(w[0] is not None for w in where.values()):
        raise ValueError(f"draw(folded=True): the graph of {describe(root)!r} ({len(tape)} ops) has no time steps "
                         "to fold: no op ran inside a scope `t=<k>`. Wrap each step in "
                         "`with tinygrad_rnn.scope(f\"t={t}\"):` (the recurrent layers do), or draw it unrolled")
    users = defaultdict(list)
    for n in tape:
        for pos, t in enumerate(n.inputs):
            if t.node is not None:
                users[t.node.index].append((n, pos))
    step, after = _layout_steps(tape, where, users)
    status = _status(root, grads)
    f = Folded({}, [], {}, {}, [], status, "", None)
    at, body = _op_vertices(f, tape, where, step, after, status == "grads")
    uses = _leaf_vertices(f, tape, step, at, body, status == "grads")
    _edges(f, tape, step, at, body, uses)
    f.root = at[root.node.index]
    norms = [e.grad for e in f.edges if e.grad]
    f.norm_range = (min(norms), max(norms)) if norms else None
    return f


def _keys(tape, where, step):
    """Per node inside the steps: its key (outer scope, inner scope, op, occurrence in its step)."""
    seen, keys = defaultdict(int), {}
    for n in tape:
        s = step[n.index]
        if s is None:
            continue
        _, outer, inner = where[n.index]
        if where[n.index][0] is None:              # a step inferred from its inputs (a loss term)
            outer, inner = n.scope, ()
        sig = ("/".join(outer), inner, n.op.name)
        keys[n.index] = sig + (seen[s, sig],)
        seen[s, sig] += 1
    return keys


def _op_vertices(f, tape, where, step, after, show):
    """A vertex per key of the loop body (its op at the latest step), per op outside it. Returns
    ({node index: vertex id}, {body vertex id: the steps its key ran at})."""
    keys = _keys(tape, where, step)
    steps_of, last = defaultdict(set), {}
    for n in tape:
        if n.index in keys:
            steps_of[keys[n.index]].add(step[n.index])
            k = keys[n.index]
            if k not in last or step[n.index] > step[last[k].index]:
                last[k] = n                         # the latest step (a reverse direction meets it first)
    single = len({step[i] for i in keys}) == 1            # one step only: it is the body
    at, body = {}, {}
    for n in tape:
        key = keys.get(n.index)
        rep = last[key] if key is not None else n
        vid = f"fold_op{rep.index}"
        at[n.index] = vid
        if vid in f.vertices:
            continue
        in_loop = key is not None and (len(steps_of[key]) > 1 or single)
        cluster = _loop_path(f, key) if in_loop else _outside(f, n, where, after)
        if in_loop:
            body[vid] = steps_of[key]
        f.vertices[vid] = _op_vertex(vid, rep, cluster, step[rep.index] if in_loop else None, show)
    for cid, found in list(f.loops.items()):
        ran = set().union(*(s for v, s in body.items() if f.vertices[v].cluster[0] == cid))
        f.loops[cid] = (found[0], min(ran), max(ran), len(ran))
    return at, body


def _op_vertex(vid, n, cluster, s, show):
    """The vertex of op node `n` (inside the loop when `s`, its step, is given: names and slices read t)."""
    out, label = n.output, _op_label(n)
    name = out.name or ""
    m = STATE.match(name)
    if s is not None and m and int(m[2]) == s:
        name = f"{m[1]}_t"
    index = n.params.get("index") if n.op.name == "getitem" else None
    if s is not None and isinstance(index, (int, np.integer)) and index == s - 1:
        label = "[t−1]"
    return Vertex(vid, "op", label, cluster, name, out.shape, norm(n.grad) if show else None, tape=[n.index],
                  tip=tip(describe(out) + (f" (drawn: t={s})" if s is not None else ""), out.shape,
                          n.grad if show else None))


def _loop_path(f, key):
    """The clusters of a body vertex: its loop (one per scope above `t=k`), then its gates."""
    outer, inner = key[0], key[1]
    cid = "cluster_fold_loop_" + slug(outer or "loop")
    f.clusters.setdefault(cid, Cluster(cid, outer, "loop"))
    f.loops.setdefault(cid, (outer,))
    path = [cid]
    for part in inner:
        path.append(f"{path[-1]}_{slug(part)}")
        f.clusters.setdefault(path[-1], Cluster(path[-1], part.replace("_", " "), "gate"))
    return tuple(path)


def _outside(f, n, where, after):
    """The cluster of an op outside the loop: its scope's, before or after the steps, as in the unrolled view."""
    scope = "/".join(p for p in n.scope if not (p.startswith("t=") and p[2:].isdigit()))
    if not scope:
        return ()
    phase = "after" if after[n.index] else "before"
    cid = f"cluster_fold_{phase}_" + slug(scope)
    f.clusters.setdefault(cid, Cluster(cid, scope, phase))
    return (cid,)


def _leaf_vertices(f, tape, step, at, body, show):
    """A vertex per leaf, or per group of per-step leaves with one use each (x_1..x_T feeding the same op).
    Weights used at several steps get their Spread. Returns {(id(leaf), node index): vertex id}."""
    uses, groups = defaultdict(list), {}
    for n in tape:
        for pos, t in enumerate(n.inputs):
            if t.node is None and not _constant(t):
                uses[id(t)].append((n, pos, t))
    splitter = StepTerms(tape)
    found = {}
    for key, group in uses.items():
        t = group[0][2]
        drop = {(at[n.index], pos) for n, pos, _ in group}
        per_step = not t.requires_grad and len({step[n.index] for n, _, _ in group}) == 1 and len(drop) == 1 \
            and all(at[n.index] in body for n, _, _ in group)
        gid = ("per", *drop) if per_step else ("leaf", key)
        groups.setdefault(gid, []).append(group)
    taken = defaultdict(int)
    for gid, members in groups.items():
        t = members[0][0][2]
        base = slug(t.name or ("param" if t.requires_grad else "input"))
        taken[base] += 1
        vid = f"fold_leaf_{base}" + (f"_{taken[base]}" if taken[base] > 1 else "")
        f.vertices[vid] = _leaf_vertex(f, vid, members, step, splitter, show)
        for group in members:
            for n, pos, leaf in group:
                found[id(leaf), n.index] = vid
    return found


def _leaf_vertex(f, vid, members, step, splitter, show):
    """The vertex of one leaf (a weight: ‖.grad‖ and, used at several steps, its Spread) or of per-step leaves."""
    t = members[0][0][2]
    if len(members) > 1:
        steps = sorted(step[g[0][0].index] for g in members)
        m = STATE.match(t.name or "")
        name = f"{m[1]}_t" if m else describe(t)
        return Vertex(vid, "input", name, (), shape=t.shape, note=f"(t={steps[0]}..{steps[-1]})")
    kind = "param" if t.requires_grad else ("input" if t.name else "const")
    v = Vertex(vid, kind, describe(t), (), shape=t.shape)
    if t.requires_grad and show:
        group = [(n, pos) for n, pos, _ in members[0]]
        terms = _terms_by_step(group, step, splitter, True)
        total = sum((a for a in terms.values() if a is not None), start=np.zeros(t.shape))
        v.grad = norm(total)
        per_step = {s: norm(a) for s, a in terms.items() if s is not None and a is not None}
        v.tip = tip(describe(t), t.shape, total)
        if per_step:                    # before the last line, the shape
            shown = ", ".join(f"t={s} {x:.4g}" for s, x in sorted(per_step.items())[:MAX_TIP_TERMS])
            more = ", …" if len(per_step) > MAX_TIP_TERMS else ""
            v.tip = v.tip[:-1] + (f"its terms' norms: {shown}{more}", v.tip[-1])
        if len(per_step) > 1:
            f.weights.append(Spread(describe(t), vid, norm(total), norm(t.grad), per_step))
        if t.grad is not None and not np.allclose(total, t.grad, rtol=1e-4, atol=1e-7):
            f.notes.append(f"{describe(t)}.grad also holds a gradient from before this backward (an earlier "
                           "backward() without zero_grad()): the numbers drawn are this backward's terms only")
    return v


def _edges(f, tape, step, at, body, leaf_at):
    """An edge per input of every op, folded: the same (source, target, input position) at every step is one
    edge, carrying the gradient of the last step it was met at; an edge from one step into another is a loop."""
    met = {}
    for n in tape:
        dst, s_dst = at[n.index], step[n.index]
        for pos, t in enumerate(n.inputs):
            src = at[t.node.index] if t.node is not None else leaf_at.get((id(t), n.index))
            if src is None:
                continue                            # a constant, folded into the op's label
            s_src = step[t.node.index] if t.node is not None else None
            loop = src in body and dst in body and s_src is not None and s_src != s_dst
            merge = src in body and dst not in body            # stack(h_1 .. h_T): one edge
            key = (src, dst, None if merge else pos, loop)
            g = n.input_grads[pos] if n.input_grads is not None else None
            when = s_dst if s_dst is not None else s_src
            met.setdefault(key, []).append((when, g, (n.index, pos), s_src))
    captioned = set()
    for (src, dst, pos, loop), seen in _unmerged(met):
        e = _edge(f, src, dst, pos, loop, seen, body)
        if loop and (src, e.caption) in captioned:
            e.caption = ""                          # a state used twice in its cell (a GRU's h): named once
        captioned.add((src, e.caption))
        f.edges.append(e)


def _unmerged(met):
    """The folded edges: a merged edge out of the loop whose uses all come from one step (h_T * h_T after
    the loop) is split back into one edge per input position."""
    for (src, dst, pos, loop), seen in met.items():
        if pos is not None or len({s for *_, s in seen}) > 1:
            yield (src, dst, pos, loop), seen
            continue
        by_pos = defaultdict(list)
        for item in seen:
            by_pos[item[2][1]].append(item)
        yield from (((src, dst, p, loop), items) for p, items in by_pos.items())


def _edge(f, src, dst, pos, loop, seen, body):
    """One folded edge from its occurrences [(step, gradient, tape ref, source step)]."""
    kind = "weight" if f.vertices[src].kind == "param" else "data"
    e = LoopEdge(f"{src}__{dst}" + (f"_{pos}" if pos is not None else "") + ("_loop" if loop else ""),
                 src, dst, kind, loop=loop)
    latest = max((w for w, _, _, _ in seen if w is not None), default=None)
    for w, g, ref, _ in seen:
        e.tape.append(ref)
        if w == latest and g is not None:
            e.array = g if e.array is None else e.array + g
    e.grad = norm(e.array)
    e.label = e.grad is not None
    whens = sorted({w for w, _, _, _ in seen if w is not None})
    if loop:
        e.caption = _loop_caption(f, src, dst, seen, body)
    elif dst in body and whens and len(whens) < len(body[dst]):
        e.caption = _when(whens, len(body[dst]))
    elif src in body and dst not in body and len(seen) > 1:
        e.caption = _when(sorted({s for *_, s in seen}), len(body[src]))
    return e


def _when(steps, of):
    """'t=1', 't=1..12' or '3 of 12 steps': the steps at which an edge is met."""
    if len(steps) == 1:
        return f"t={steps[0]}"
    if steps == list(range(steps[0], steps[-1] + 1)):
        return f"t={steps[0]}..{steps[-1]}"
    return f"{len(steps)} of {of} steps"


def _loop_caption(f, src, dst, seen, body):
    """'h_t: ×T=12 steps' ('… backwards in t' for a reverse direction), or, for an edge into the next step
    met at some steps only, those steps."""
    v, ran = f.vertices[src], f.loops[f.vertices[dst].cluster[0]][3]
    name = v.name or v.label
    pairs = {(s, w) for w, _, _, s in seen}
    if len(pairs) < ran - 1:
        return f"{name}: " + _when(sorted(w for _, w in pairs), ran)
    back = all(s > w for s, w in pairs)
    return f"{name}: ×T={ran} steps" + (", backwards in t" if back else "")


def sparkline(terms, width=SPARK_WIDTH):
    """The terms' norms in time order as block characters on a log scale (at most `width` characters, a
    longer sequence as the largest of each of `width` buckets); a zero term is '·'."""
    values = [terms[s] for s in sorted(terms)]
    if len(values) > width:
        edges = np.linspace(0, len(values), width + 1).astype(int)
        values = [max(values[a:b]) for a, b in zip(edges, edges[1:])]
    positive = [x for x in values if x > 0 and np.isfinite(x)]
    if not positive:
        return "·" * len(values)
    lo, hi = np.log(min(positive)), np.log(max(positive))
    out = []
    for x in values:
        if not np.isfinite(x):
            out.append("!")
        elif x <= 0:
            out.append("·")
        else:
            k = len(SPARK) - 1 if hi <= lo else int(round((np.log(x) - lo) / (hi - lo) * (len(SPARK) - 1)))
            out.append(SPARK[k])
    return "".join(out)


# ---- DOT ---------------------------------------------------------------------------------------------

LOOP_COLOUR = "#2b5c8a"
LR_MAX = 16              # up to this many vertices the fold is drawn left to right (a slide's shape), else top down


def to_dot(f, title=None, font=None, key=True):
    """The folded view as a Digraph (a dot.Picture): ids prefixed `fold_`, so it can sit beside the unrolled SVG.
    key=False leaves out the title, the legend and the key (the player shows the unrolled graph's)."""
    from .dot import FONT, FONT_SIZE, Picture
    font = FONT_SIZE if font is None else font
    rankdir = "LR" if len(f.vertices) <= LR_MAX else "TB"          # a bigger cell: layers one under another
    g = Picture("folded", graph_attr={"rankdir": rankdir, "newrank": "true", "nodesep": "0.2", "ranksep": "0.3",
                                      "fontname": FONT, "fontsize": f"{font * 1.15:g}", "labelloc": "t",
                                      "labeljust": "l", "id": "folded", "class": "folded", "forcelabels": "true"},
                node_attr={"fontname": FONT, "fontsize": f"{font:g}", "height": "0.2", "width": "0.2",
                           "margin": "0.05,0.02"},
                edge_attr={"fontname": FONT, "fontsize": f"{font:g}", "arrowsize": "0.6"})
    lo, hi = f.norm_range or (1.0, 1.0)
    if key:
        g.attr(label=_graph_label(f, title, lo, hi, font))
    _write_vertices(g, f, lo, hi, font)
    for e in f.edges:
        a = _edge_attrs(e, lo, hi, "e" if rankdir == "TB" else "s")
        if e.loop:              # written forwards and drawn backwards: dot ranks the cell as one step's flow
            g.edge(e.dst, e.src, dir="back", **a)
        else:
            g.edge(e.src, e.dst, **a)
    return g


def _write_vertices(g, f, lo, hi, font):
    """Every vertex inside its clusters (a tree, written depth first)."""
    tree = {(): ([], {})}
    for v in f.vertices.values():
        node = tree[()]
        for cid in v.cluster:
            node = node[1].setdefault(cid, ([], {}))
        node[0].append(v)

    def write(graph, content, gate=None):
        for v in content[0]:
            graph.node(v.id, **_vertex_attrs(f, v, lo, hi, gate))
        for cid, inner in content[1].items():
            c = f.clusters[cid]
            with graph.subgraph(name=cid) as sub:
                sub.attr(**_cluster_attrs(f, c, font))
                write(sub, inner, c.label.replace(" ", "_") if c.kind == "gate" else gate)

    write(g, tree[()])


def _cluster_attrs(f, c, font):
    from .dot import _cluster_attrs as plain, escape
    if c.kind != "loop":
        return plain(c, f"{font:g}")
    outer, first, last, ran = f.loops[c.id]
    text = (escape(outer) + ": " if outer else "") + f"loop over t={first}..{last} ({ran} steps), drawn once (t={last})"
    return {"id": c.id, "class": "loop", "label": f"<{text}>", "labeljust": "l", "style": "rounded,bold",
            "color": LOOP_COLOUR, "fontcolor": LOOP_COLOUR, "fontsize": f"{font:g}", "penwidth": "1.6"}


def _vertex_attrs(f, v, lo, hi, gate):
    from .dot import _lines, _vertex_attrs as plain, escape, fmt, name_html, small
    a = plain(v, lo, hi, gate)
    a["class"] = f"{a['class']} fold"
    spread = next((w for w in f.weights if w.vertex == v.id), None)
    if spread is not None:
        (s_lo, n_lo), (s_hi, n_hi) = spread.extreme(min), spread.extreme(max)
        first, last = min(spread.terms), max(spread.terms)
        a["label"] = _lines(name_html(v.label) + " " + small(f"∇ {fmt(spread.total)}", "#7a0019"),
                            small(escape(f"terms over t={first}..{last}: {fmt(n_lo)} (t={s_lo}) … "
                                         f"{fmt(n_hi)} (t={s_hi})"), "#444444"),
                            small(escape(sparkline(spread.terms)), "#7a0019"))
    return a


def _edge_attrs(e, lo, hi, side):
    """dot's colour and width for the gradient, without the number (the vertices show theirs); a loop edge
    bold and blue, leaving and entering on `side` (so even a short one is an arc), its caption beside it."""
    from .dot import _edge_attrs as plain, escape, name_html
    a = plain(e, lo, hi)
    a.pop("headlabel", None)
    a["class"] += " fold" + (" loop" if e.loop else "")
    if e.loop:
        a.update(color=LOOP_COLOUR, penwidth="2.4", style="bold", arrowsize="0.9",
                 tailport=side, headport=side)
    if e.caption:
        name, sep, rest = e.caption.partition(": ")
        text = (name_html(name) + escape(sep + rest)) if sep else escape(e.caption)
        a.update(label=f"<{text}>", fontcolor=LOOP_COLOUR if e.loop else "#444444")
    return a


KEY = ("folded: each loop's ops are drawn once, at its last step; the bold blue edge carries the state into the "
       "next step.")
GRAD_KEY = (" ∇ inside a loop is the drawn step's; a weight shows ∇ = ‖.grad‖ (the sum of its per-step terms), its "
            "smallest and largest term and a sparkline of the terms over t (log scale).")


def _graph_label(f, title, lo, hi, font):
    """The title and any warnings, then the legend of gradient colours beside what the fold shows."""
    import textwrap

    from .dot import MAX_LABEL, STATUS, _legend, escape, small
    rows = [f'<FONT POINT-SIZE="{font * 1.3:g}"><B>{escape(title, 3 * MAX_LABEL)}</B></FONT>'] if title else []
    if STATUS.get(f.status):
        rows.append(f'<FONT COLOR="#b00020">{escape(STATUS[f.status], None)}</FONT>')
    rows += [f'<FONT COLOR="#b00020">{escape(n, 3 * MAX_LABEL)}</FONT>' for n in f.notes]
    cells = "".join(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{r}</TD></TR>' for r in rows)
    text = KEY + (GRAD_KEY if f.status == "grads" else "")
    key = small("<BR ALIGN='LEFT'/>".join(escape(line) for line in textwrap.wrap(text, 60)) + "<BR ALIGN='LEFT'/>",
                "#333333")
    legend = _legend(_AsView(f), lo, hi, f.vertices[f.root].name or "loss")[1:-1] if f.status == "grads" else ""
    legend = legend.replace("; a number on an edge: what that edge carried", "; an edge's colour: what it carried")
    cells += (f'<TR><TD ALIGN="LEFT" VALIGN="TOP" ID="fold_key">{key}</TD>'
              f'<TD ALIGN="LEFT" VALIGN="TOP" ID="fold_legend">{legend}</TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="0">{cells}</TABLE>>'


class _AsView:
    """What dot._legend reads of a view: vertices, edges, clusters, the range of the edges' norms."""

    def __init__(self, f):
        self.vertices, self.edges, self.clusters = f.vertices, f.edges, f.clusters
        self.norm_range = f.norm_range
