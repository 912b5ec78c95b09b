"""Write a view (view.py) as a graphviz.Digraph: time left to right, gradients as colour, width and labels.

Every vertex, edge and cluster keeps the id the view gave it and a `class` naming its kind, so the SVG
that graphviz writes can be restyled by the HTML player without laying it out again.
"""
import math
import re
import textwrap
from html import escape as _html_escape
from itertools import pairwise

import graphviz

from .text import MAX_LABEL, visible
from .view import conventions

FONT = "Helvetica,Arial,sans-serif"
# ColorBrewer YlOrRd without its two near-white steps: weak gradients stay visible on white.
PALETTE = ["#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"]
NO_GRAD = "#9a9a9a"
GATE_FILL = {"forget_gate": "#fbeeee", "input_gate": "#eef6ec", "output_gate": "#edf1fa", "cell": "#fbf5e6",
             "candidate": "#fbf5e6", "reset_gate": "#f5eef9", "update_gate": "#ebf6f6"}
STATUS = {"no_backward": "backward has not run: no gradients to show yet (call loss.backward(keep_grads=True) first)",
          "not_kept": "backward() ran lean (the default) and kept no per-edge gradients: call loss.backward(keep_grads=True) to draw them",
          "off": ""}


def escape(text, limit=MAX_LABEL):
    """The one escape for text inside a graphviz HTML-like label: `visible`, then HTML-escaped, and each
    backslash doubled (graphviz reads \\N, \\G, \\L in a label as the node's or graph's name)."""
    return _html_escape(visible(text, limit)).replace("\\", "\\\\")


def plain_label(text):
    """A whole label from user text (a scope name): an HTML-like label holding only escaped text, so
    graphviz never reads the text as DOT or as HTML markup."""
    return f"<{escape(text)}>" if text else ""


def fmt(x):
    return "0" if x == 0 else f"{x:.3g}"


def shade(x, lo, hi):
    """Where x sits between lo and hi on a log scale, 0..1."""
    if x <= 0 or hi <= lo:
        return 1.0 if x > 0 else 0.0
    return min(1.0, max(0.0, math.log(x / lo) / math.log(hi / lo)))


def colour(t):
    """The palette at 0 <= t <= 1, interpolated in RGB."""
    pos = t * (len(PALETTE) - 1)
    i = min(int(pos), len(PALETTE) - 2)
    a, b = (tuple(int(c[k:k + 2], 16) for k in (1, 3, 5)) for c in PALETTE[i:i + 2])
    f = pos - i
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


NAME = re.compile(r"^([^_\s^]+)(?:\^\((\w{1,3})\))?_((?:[^_\s]{1,5}_){0,2}[^_\s]{1,5})$")


def name_html(name):
    """The one rule for subscripts: everything after the first underscore is the subscript, its own
    underscores shown as commas; a layer mark ^(l) is a superscript. s_1 -> s<SUB>1</SUB>, W_s' -> W<SUB>s'</SUB>,
    weight_ih_l0 -> weight<SUB>ih,l0</SUB>, h^(1)_3 -> h<SUP>(1)</SUP><SUB>3</SUB>. player.js's sub() is the same."""
    name = visible(name)
    m = NAME.match(name)
    if not m:
        return escape(name)
    sup = f"<SUP>({escape(m[2])})</SUP>" if m[2] else ""
    return f"{escape(m[1])}{sup}<SUB>{escape(m[3].replace('_', ','))}</SUB>"


def shape_text(shape):
    return "×".join(map(str, shape)) if shape else "scalar"


def small(text, colour="#555555", size=7):
    return f'<FONT POINT-SIZE="{size}" COLOR="{colour}">{text}</FONT>'


def to_dot(view, title=None):
    graph_attr = {"rankdir": "LR", "newrank": "true", "nodesep": "0.12", "ranksep": "0.22", "fontname": FONT,
                  "fontsize": "10", "labelloc": "t", "labeljust": "l", "id": "tape", "class": f"tape {view.detail}"}
    g = graphviz.Digraph("tape", graph_attr=graph_attr,
                         node_attr={"fontname": FONT, "fontsize": "9", "height": "0.2", "width": "0.2",
                                    "margin": "0.04,0.02"},
                         edge_attr={"fontname": FONT, "fontsize": "7", "arrowsize": "0.45"})
    lines = [f"<B>{escape(title, 3 * MAX_LABEL)}</B>"] if title else []
    if STATUS.get(view.status):
        lines.append(f'<FONT COLOR="#b00020">{escape(STATUS[view.status], None)}</FONT>')
    lines += [f'<FONT COLOR="#b00020">{escape(n, 3 * MAX_LABEL)}</FONT>' for n in view.notes]
    if lines:
        g.attr(label="<" + "<BR ALIGN='LEFT'/>".join(lines) + "<BR ALIGN='LEFT'/>>")
    lo, hi = view.norm_range or (1.0, 1.0)
    loss = view.vertices[view.root].name or "loss"

    # vertices, nested in their clusters (built as a tree, then written depth first)
    tree = {(): ([], {})}
    for v in view.vertices.values():
        node = tree[()]
        for cid in v.cluster:
            node = node[1].setdefault(cid, ([], {}))
        node[0].append(v)

    def write(graph, content):
        for v in content[0]:
            graph.node(v.id, **_vertex_attrs(v, lo, hi))
        for cid, inner in content[1].items():
            with graph.subgraph(name=cid) as sub:
                sub.attr(**_cluster_attrs(view.clusters[cid]))
                write(sub, inner)

    write(g, tree[()])

    for e in view.edges:
        tail = e.src + (f":{e.src_port}:e" if e.src_port else "")
        head = e.dst + (f":{e.dst_port}:w" if e.dst_port else "")
        g.edge(tail, head, **_edge_attrs(e, lo, hi))

    # step clusters in a row, not a staircase: the last vertex of each step comes before every vertex of
    # the next step that no edge feeds (its inputs and weight copies), which would otherwise float left
    for a, b in _invisible_chain(view):
        g.edge(a, b, style="invis")

    if view.status == "grads":
        g.node("legend", _legend(view, lo, hi, loss), shape="plain", id="legend", **{"class": "legend"})
        g.edge(view.root, "legend", style="invis")
        if view.weights:
            g.node("weights", _table(view, lo, hi, loss), shape="plain", id="weights", **{"class": "weights"})
            g.edge(view.root, "weights", style="invis")
    return g


def _invisible_chain(view):
    """Pairs (a, b): a ends step t (no edge leaves it within its step), b starts step t+1 (no edge enters it)."""
    members = {}
    for v in view.vertices.values():
        if v.cluster and (v.cluster[0].startswith("cluster_t") or v.cluster[0] == "cluster_elided"):
            members.setdefault(v.cluster[0], []).append(v)
    order = [f"cluster_t{s}" for s in view.steps]
    if view.elided:
        order.insert(sum(1 for s in view.steps if s < view.elided[0]), "cluster_elided")
    order.append("after")                  # what follows the steps (the outputs, the loss) comes last
    members["after"] = [v for v in view.vertices.values() if v.after]
    fed = {e.dst for e in view.edges}
    inner = {e.src for e in view.edges
             if view.vertices[e.src].cluster[:1] == view.vertices[e.dst].cluster[:1]}
    pairs = []
    for prev, cid in pairwise(order):
        if prev not in members:
            continue
        ends = [v.id for v in members[prev] if v.id not in inner]
        pairs += [(a, v.id) for v in members.get(cid, ()) if v.id not in fed for a in ends]
    return pairs


def _lines(*rows):
    """Rows of a label as a borderless table (a <BR/> lets subscripts run into the next line)."""
    cells = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows if r)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{cells}</TABLE>>'


def _vertex_attrs(v, lo, hi):
    a = {"id": v.id, "class": f"{v.kind}" + (f" t{v.step}" if v.step is not None else "")}
    if v.group:
        a["group"] = v.group
    grad = small(f"∇ {fmt(v.grad)}", "#7a0019") if v.grad is not None else ""
    value = small(escape(v.value, None), "#1f4e79") if v.value is not None else ""
    if v.kind == "cell":
        a.update(shape="plain", label=_cell_html(v))
    elif v.kind == "elided":
        a.update(shape="box", style="dashed,rounded", color="#666666", fontsize="10",
                 label=_lines(escape(v.label), small(escape(v.note), size=8)))
    elif v.kind == "stub":
        a.update(shape="box", style="dashed,rounded", color="#9a9a9a", fontsize="8", margin="0.03,0.01",
                 label=_lines(small("→ " + name_html(v.label), "#555555", 8)))
    elif v.kind == "op" and not v.name:
        a.update(shape="ellipse", style="filled", fillcolor="#f2f2f2", color="#8a8a8a", fontsize="8",
                 label=_lines(escape(v.label), grad))
    else:
        title = name_html(v.name if v.kind == "op" else v.label)
        if v.kind == "op":
            title += " " + small(escape(v.label), "#444444", 8)
        if v.shape is not None and v.kind != "copy":
            title += " " + small(shape_text(v.shape))
        note = small(escape(v.note), "#666666") if v.note and v.kind != "copy" else ""
        style, fill, line = {"op": ("rounded,filled", "#e3eefb", "#5b7fa8"), "param": ("filled", "#fff1c2", "#b08a00"),
                             "copy": ("dashed,filled", "#fff8e0", "#b08a00"), "input": ("rounded", "white", "#777777"),
                             "const": ("rounded,dotted", "white", "#999999")}[v.kind]
        a.update(shape="box", style=style, fillcolor=fill, color=line, label=_lines(title, note, value, grad))
    return a


def _cell_html(v):
    rows = max(len(v.inputs), len(v.outputs), 1)
    cells = []
    for i in range(rows):
        left = v.inputs[i] if i < len(v.inputs) else None
        right = v.outputs[i] if i < len(v.outputs) else None
        l_td = f'<TD PORT="{left[0]}" ALIGN="LEFT">{name_html(left[2])}</TD>' if left else "<TD></TD>"
        r_td = f'<TD PORT="{right[0]}" ALIGN="RIGHT">{name_html(right[2])}</TD>' if right else "<TD></TD>"
        cells.append(f"<TR>{l_td}{r_td}</TR>")
    head = f'<TR><TD COLSPAN="2"><B>{escape(v.label)}</B> {small(f"{len(v.tape)} ops")}</TD></TR>'
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" STYLE="ROUNDED" '
            f'BGCOLOR="#eef3fb" COLOR="#5b7fa8">{head}{"".join(cells)}</TABLE>>')


def _cluster_attrs(c):
    a = {"id": c.id, "class": c.kind, "fontname": FONT, "labeljust": "l"}
    if c.kind == "step":
        a.update(label=plain_label(c.label), style="rounded", color="#9a9a9a", fontsize="11")
    elif c.kind == "scope":
        a.update(label=plain_label(c.label), style="rounded,dashed", color="#b5b5b5", fontsize="8", fontcolor="#666666")
    elif c.kind == "gate":
        key = c.label.replace(" ", "_")
        a.update(label=plain_label(c.label), style="rounded,filled", color="#d8d8d8", fontsize="7", fontcolor="#777777",
                 fillcolor=GATE_FILL.get(key, "#f6f6f6"))
    elif c.kind in ("before", "after"):
        a.update(label=plain_label(c.label), style="rounded,dashed", color="#c8c8c8", fontsize="8", fontcolor="#888888")
    else:
        a.update(label="", style="invis")
    return a


def _edge_attrs(e, lo, hi):
    a = {"id": e.id, "class": f"edge-{e.kind}"}
    if e.kind == "through":
        a["style"] = "dashed"
    if e.grad is None:
        a.update(color=NO_GRAD, penwidth="0.8")
    elif e.grad == 0:
        a.update(color="#c8c8c8", penwidth="0.8", style="dotted")     # exactly zero: dotted grey
    else:
        t = shade(e.grad, lo, hi)
        a.update(color=colour(t), penwidth=f"{0.8 + 4.2 * t:.2f}")
    if e.label:
        a.update(label=fmt(e.grad), fontcolor="#444444")
    return a


def _legend(view, lo, hi, loss):
    k = 5
    values = [lo * (hi / lo) ** (i / (k - 1)) if hi > lo else hi for i in range(k)]
    swatches = "".join(f'<TD BGCOLOR="{colour(i / (k - 1))}" WIDTH="26" HEIGHT="{2 + 3 * i}"></TD>'
                       for i in range(k))
    ticks = "".join(f"<TD>{small(fmt(x))}</TD>" for x in values)
    name = name_html(loss)
    notes = [f"∇ on a node: ‖∂{name}/∂ its value‖; a number on an edge: what that edge carried",
             "dotted grey: exactly zero; thin grey: no gradient (a constant input)"]
    kinds = {v.kind for v in view.vertices.values()}
    if "copy" in kinds:
        notes.append("dashed box: a tensor shared by all steps, at this step; ∇ = this step&#39;s term")
    if "stub" in kinds:
        notes.append("→ box: this step&#39;s part of a result gathered after the steps")
    if any(e.kind == "through" for e in view.edges):
        notes.append("dashed edge: through the next layer&#39;s input projection (stack @ Wᵀ + b, row t)")
    gates = {part for c in view.clusters.values() if c.kind == "gate" for part in (c.label.replace(" ", "_"),)}
    for text in conventions(gates):
        notes.append("<BR ALIGN='LEFT'/>".join(escape(line) for line in textwrap.wrap(text, 62)) + "<BR ALIGN='LEFT'/>")
    rows = [f'<TR><TD COLSPAN="{k}" ALIGN="LEFT"><B>gradient along an edge</B>: ‖∂{name}/∂·‖, log scale</TD></TR>',
            f"<TR>{swatches}</TR>", f"<TR>{ticks}</TR>"]
    rows += [f'<TR><TD COLSPAN="{k}" ALIGN="LEFT">{small(n, "#333333", 8)}</TD></TR>' for n in notes]
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">{"".join(rows)}</TABLE>>'


def _table(view, lo, hi, loss):
    cols = view.columns
    head = "".join(f"<TD><B>{escape(c)}</B></TD>" for c in cols)
    rows = [f'<TR><TD ALIGN="LEFT"><B>‖∂{name_html(loss)}/∂W‖</B></TD>{head}<TD><B>total</B></TD></TR>']
    for w in view.weights:
        terms = "".join(f"<TD>{fmt(w.terms[c]) if w.terms.get(c) is not None else '·'}</TD>" for c in cols)
        rows.append(f'<TR><TD ALIGN="LEFT">{name_html(w.name)}</TD>{terms}<TD><B>{fmt(w.total)}</B></TD></TR>')
    foot = (f'<TR><TD COLSPAN="{len(cols) + 2}" ALIGN="LEFT">'
            f'{small("one term per step; the terms add up (as arrays) to the total, which is .grad", "#333333", 8)}'
            "</TD></TR>")
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" COLOR="#bbbbbb">'
            f'{"".join(rows)}{foot}</TABLE>>')
