"""Write a view (view.py) as a graphviz.Digraph: data flowing left to right inside each step, the steps in one
row, one row each (time top to bottom) or rows of a few; gradients as colour, width and numbers at the
edges' heads; one font size for every name and number.

A step reads the state of the step before through a dashed port box (where step 1 has h_0), and a gate is a
fill colour, not a sub-box: so in one row per step, every row is its own piece of the graph for dot and is
laid out the same way (dot orders sub-boxes anew at every step). The legend and the table of per-step
terms sit above the picture, in the graph's label.

Every vertex, edge and cluster keeps the id the view gave it and a `class` naming its kind, so the SVG
that graphviz writes can be restyled by the HTML player without laying it out again.
"""
import math
import textwrap
from collections import Counter
from dataclasses import replace
from html import escape as _html_escape
from itertools import pairwise

import graphviz

from .text import MAX_LABEL, NAME, visible
from .view import Edge, Vertex, conventions

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


def wrapped(text, width, limit=MAX_LABEL):
    """Text for an HTML-like label in lines of at most `width` characters, each escaped, left-aligned."""
    lines = textwrap.wrap(visible(text, limit), width) or [""]
    return "".join(escape(line, None) + "<BR ALIGN='LEFT'/>" for line in lines)


MAX_TIP_LINE = 400         # characters in one line of hover text


def tooltip(lines):
    """Hover text from user text, one line each: `visible`, and each backslash written four times (graphviz
    reads a tooltip's escapes twice). It always ends with a line of ours, so it is never an HTML-like string."""
    return "\\n".join(visible(line, MAX_TIP_LINE).replace("\\", "\\" * 4) for line in lines)


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


FONT_SIZE = 14           # points: every name and number; the title is a little larger
LAYOUTS = ("auto", "lr", "tb", "wrap")


def small(text, colour="#555555"):
    """Secondary text (a gradient, a shape, a note): another colour, the same size as the name it goes with."""
    return f'<FONT COLOR="{colour}">{text}</FONT>'


def to_dot(view, title=None, layout="lr", columns=None, font=FONT_SIZE, terms=True, spots=None):
    """The view as a Digraph, its steps laid out as `layout` says: "lr" side by side (time left to right,
    data flowing down inside each step), "tb" one step per row (time top to bottom, data flowing right),
    "wrap" rows of `columns` steps (data flowing right). terms=False leaves out the table of per-step terms
    (the player reveals them one by one). spots: {edge id: fit.Spot} for the edge numbers that
    fit.clear_head_labels moved off a box (to another angle and distance, or to the edge's start).

    In "lr" and "tb" every step is a connected component of its own: dot lays each one out alone, so all
    steps of a layer come out the same, and places them in the order they are written. What a step reads
    from an earlier one enters through a port box that names its source (_links)."""
    per_row = _per_row(view, layout, columns)
    across = layout == "lr"
    graph_attr = {"rankdir": "TB" if across else "LR", "newrank": "true", "nodesep": "0.12", "ranksep": "0.2",
                  "fontname": FONT, "fontsize": f"{font * 1.15:g}", "labelloc": "t", "labeljust": "l", "id": "tape",
                  "class": f"tape {view.detail} {layout}", "remincross": "true"}
    g = Picture("tape", graph_attr=graph_attr,
                node_attr={"fontname": FONT, "fontsize": f"{font:g}", "height": "0.2", "width": "0.2",
                           "margin": "0.05,0.02"},
                edge_attr={"fontname": FONT, "fontsize": f"{font:g}", "arrowsize": "0.6"})
    lo, hi = view.norm_range or (1.0, 1.0)
    g.attr(label=_graph_label(view, title, lo, hi, font, terms))

    row = _rows(view, per_row)
    links, edges = _links(view, row)

    # vertices, nested in their clusters (built as a tree, then written depth first). dot places separate
    # components in the order it meets them: left to right (rankdir=TB), or bottom to top (rankdir=LR, so
    # there the last row is written first).
    tree = {(): ([], {})}
    kinds = {"input": 1, "const": 1, "link": 1}     # a step's initial state (h_0) where later steps have ports
    first = 1 if across else -1
    for v in sorted([*view.vertices.values(), *links], key=lambda v: (first * row.get(v.id, 0), kinds.get(v.kind, 0))):
        node = tree[()]
        for cid in v.cluster:           # a gate is a fill colour, not a box: dot would order the boxes anew
            if view.clusters[cid].kind != "gate":       # at every step
                node = node[1].setdefault(cid, ([], {}))
        node[0].append(v)

    def write(graph, content):
        for v in content[0]:
            graph.node(v.id, **_vertex_attrs(v, lo, hi, _gate(view, v), across))
        for cid, inner in content[1].items():
            with graph.subgraph(name=cid) as sub:
                sub.attr(**_cluster_attrs(view.clusters[cid], f"{font:g}"))
                write(sub, inner)

    write(g, ([], tree[()][1]))                 # clusters first: their order is the components' order
    write(g, (tree[()][0], {}))
    in_side, out_side = ("n", "s") if across else ("w", "e")
    fan_out, fan_in = Counter(e.src for e in edges), Counter(e.dst for e in edges)
    pairs, twins = Counter((e.src, e.dst) for e in edges), Counter()
    for e in edges:
        src, dst = view.vertices.get(e.src), view.vertices.get(e.dst)
        drawn_port = e.src_port and src and src.kind == "cell"     # the elided block's ports have no table cell
        tail = e.src + (f":{e.src_port}:{out_side}" if drawn_port else "")
        head = e.dst + (f":{e.dst_port}:{in_side}" if e.dst_port else "")
        a = _edge_attrs(e, lo, hi)
        if "headlabel" in a and fan_in[e.dst] == 1 and dst and dst.grad is not None and fmt(dst.grad) == a["headlabel"]:
            del a["headlabel"]              # the only input of a vertex that shows the same number (a gate's slice)
        twins[e.src, e.dst] += 1
        if "headlabel" in a and pairs[e.src, e.dst] > 1:     # edges side by side (h * h): a number either side
            a.update(labelangle="70" if twins[e.src, e.dst] % 2 else "-70", labeldistance="2.4")
        if "headlabel" in a and spots and e.id in spots:
            spot = spots[e.id]
            a.update(labelangle=f"{spot.angle:g}", labeldistance=f"{spot.distance:g}")
            if spot.end == "tail":
                a["taillabel"] = a.pop("headlabel")
        if src and (src.kind == "param" and fan_out[e.src] > 1 or _crosses(view, e)):
            a["weight"] = "0"               # a weight drawn once, an edge to each step, an edge from one step
                                            # to the next: none may tilt the row into a staircase
        g.edge(tail, head, **a)

    # step clusters in a row, not a staircase: the last vertex of each step comes before every vertex of
    # the next step that no edge feeds (its inputs and weight copies), which would otherwise float left
    for a, b in [] if across else _invisible_chain(view, per_row):
        g.edge(a, b, style="invis", weight="0")
    return g


class Picture(graphviz.Digraph):
    """A graphviz.Digraph whose inline SVG (Jupyter, nbconvert) scales down to the cell's width, its
    subscripts drawn smaller as in its PNG."""

    def _repr_image_svg_xml(self):
        from . import pipe
        from .fit import fluid
        return fluid(pipe(self, "svg").decode("utf-8"))


def _crosses(view, e):
    """Does the edge join two different steps?"""
    a, b = view.vertices.get(e.src), view.vertices.get(e.dst)
    return bool(a and b and a.step is not None and b.step is not None and a.cluster[:1] != b.cluster[:1])


def _graph_label(view, title, lo, hi, font, terms=True):
    """The title, any warnings, then the legend and the table of per-step terms side by side: above the
    picture, where they cost no width of their own."""
    lines = [f'<FONT POINT-SIZE="{font * 1.3:g}"><B>{escape(title, 3 * MAX_LABEL)}</B></FONT>'] if title else []
    if STATUS.get(view.status):
        lines.append(f'<FONT COLOR="#b00020">{escape(STATUS[view.status], None)}</FONT>')
    lines += [f'<FONT COLOR="#b00020">{wrapped(n, 110, 3 * MAX_LABEL)}</FONT>' for n in view.notes]
    rows = [f'<TR><TD ALIGN="LEFT" COLSPAN="2">{line}</TD></TR>' for line in lines]
    if view.status == "grads":
        loss = view.vertices[view.root].name or "loss"
        cells = f'<TD ALIGN="LEFT" VALIGN="TOP" ID="legend">{_legend(view, lo, hi, loss)[1:-1]}</TD>'
        if view.weights and terms:
            cells += f'<TD ALIGN="LEFT" VALIGN="TOP" ID="weights">{_table(view, lo, hi, loss)[1:-1]}</TD>'
        rows.append(f"<TR>{cells}</TR>")
    if not rows:
        return ""
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="0">' + "".join(rows)
            + "</TABLE>>")


def _step_order(view):
    """The step clusters in time order, the elided block in its place."""
    order = [f"cluster_t{s}" for s in view.steps]
    if view.elided:
        order.insert(sum(1 for s in view.steps if s < view.elided[0]), "cluster_elided")
    return order


def _members(view):
    """cluster id (a step's, the elided block's, "before", "after") -> its vertices."""
    members = {"before": [], "after": []}
    for v in view.vertices.values():
        top = v.cluster[0] if v.cluster else None
        if top and (top.startswith("cluster_t") or top == "cluster_elided"):
            members.setdefault(top, []).append(v)
        elif v.after:
            members["after"].append(v)
        elif top:
            members["before"].append(v)
    return members


def _per_row(view, layout, columns):
    if layout not in LAYOUTS[1:]:
        raise ValueError(f"draw: layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    n = max(len(_step_order(view)), 1)
    if layout in ("lr", "tb"):
        return 1                            # a row of its own for every step (in lr, rows stand side by side)
    return n if columns is None else max(1, min(int(columns), n))


def _rows(view, per_row):
    """vertex id -> the row of steps it is drawn in: before the steps, row 0; after them, the last row of
    steps when all steps are in one row, else a row of their own."""
    order = _step_order(view)
    at = {cid: i // per_row for i, cid in enumerate(order)}
    last = (len(order) - 1) // per_row if order else 0
    row = {}
    for v in view.vertices.values():
        if v.cluster and v.cluster[0] in at:
            row[v.id] = at[v.cluster[0]]
        elif v.after:
            row[v.id] = last + (per_row < len(order))
        elif v.cluster:
            row[v.id] = 0 if per_row >= len(order) else -1    # several rows: a row of its own, at the top
    return row


def _invisible_chain(view, per_row):
    """Pairs (a, b): a ends step t (no edge leaves it within its step), b starts step t+1 (no edge enters it),
    for consecutive steps of one row; what comes before the steps leads the first row, what follows them
    (outputs, the loss) ends the last."""
    members = _members(view)
    order = _step_order(view)
    breaks = {order[i] for i in range(per_row, len(order), per_row)}      # the first step of each later row
    order = ["before"] + order + ["after"]
    fed = {e.dst for e in view.edges}
    inner = {e.src for e in view.edges
             if view.vertices[e.src].cluster[:1] == view.vertices[e.dst].cluster[:1]}
    pairs = []
    if breaks:                              # one component per row (so dot keeps every row's arrangement)
        order = order[1:]
    for prev, cid in pairwise(order):
        if not members.get(prev) or cid in breaks:
            continue
        ends = [v.id for v in members[prev] if v.id not in inner]
        pairs += [(a, v.id) for v in members.get(cid, ()) if v.id not in fed for a in ends]
    return pairs


def _links(view, row):
    """Every step is drawn the same way: what a step reads from an earlier step (h_{t-1}, c_{t-1}) enters it
    through a dashed port box inside it, where step 1 has its initial state (h_0, c_0); within a row a plain
    line joins the state to the port. Between rows there is no line: a line would tie the rows together,
    and dot would then order them as it likes (the port names where the state comes from).
    Returns the ports (kind "link") and the edges to draw (the ports' lines have kind "link")."""
    links, edges, joined = {}, [], set()
    for e in view.edges:
        src, dst = view.vertices[e.src], view.vertices[e.dst]
        hidden = src.kind == "elided"       # the state the last hidden step hands on
        if e.src not in row or e.dst not in row or src.step is None and not hidden \
                or src.cluster[:1] == dst.cluster[:1] or src.kind not in ("op", "cell", "stub", "elided"):
            edges.append(e)
            continue
        lid = f"link_{e.src}_{e.src_port or ''}_{dst.cluster[0] if dst.cluster else 'after'}"
        if lid not in links:
            where = dst.cluster if dst.kind == "op" else dst.cluster[:1]
            name = _port_name(src.outputs, e.src_port) if e.src_port else src.name or src.label
            made = view.elided[1] if hidden else src.step
            links[lid] = Vertex(lid, "link", name, where, step=dst.step, note=f"from t={made}")
            row[lid] = row[e.dst]
        if row[e.src] == row[e.dst] and lid not in joined:
            joined.add(lid)
            edges.append(Edge(f"{lid}_in", e.src, lid, "link", src_port=None if hidden else e.src_port))
        edges.append(replace(e, src=lid, src_port=None))
    return list(links.values()), edges


def _port_name(ports, port):
    return next((name for pid, _, name in ports if pid == port), port)


def _lines(*rows, values=()):
    """Rows of a label as a borderless table (a <BR/> lets subscripts run into the next line); the rows of a
    printed value are left-aligned, so that a matrix's columns stay under each other."""
    cells = "".join([f"<TR><TD>{r}</TD></TR>" for r in rows if r] +
                    [f'<TR><TD ALIGN="LEFT">{r}</TD></TR>' for r in values])
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{cells}</TABLE>>'


def _gate(view, v):
    """The gate a vertex belongs to ("forget_gate"), or None."""
    gates = [view.clusters[c].label for c in v.cluster if view.clusters[c].kind == "gate"]
    return gates[-1].replace(" ", "_") if gates else None


def _vertex_attrs(v, lo, hi, gate=None, across=False):
    a = {"id": v.id, "class": f"{v.kind}" + (f" t{v.step}" if v.step is not None else "")}
    if v.tip:
        a["tooltip"] = tooltip(v.tip)
    if v.group:
        a["group"] = v.group
    grad = small(f"∇ {fmt(v.grad)}", "#7a0019") if v.grad is not None else ""
    values = [small(escape(line, None), "#1f4e79") for line in v.value.split("\n")] if v.value is not None else []
    if v.kind == "cell":
        a.update(shape="plain", label=_cell_html(v, across))
    elif v.kind == "elided":
        a.update(shape="box", style="dashed,rounded", color="#666666", 
                 label=_lines(escape(v.label), small(escape(v.note))))
    elif v.kind == "link":
        a.update(shape="box", style="dashed,rounded", color="#5b7fa8",
                 label=_lines(name_html(v.label) + " " + small(escape(v.note))))
    elif v.kind == "stub":
        a.update(shape="box", style="dashed,rounded", color="#9a9a9a", margin="0.03,0.01",
                 label=_lines(small("→ " + name_html(v.label), "#555555")))
    elif v.kind == "op" and not v.name:
        a.update(shape="box", style="rounded,filled", fillcolor=GATE_FILL.get(gate, "#f2f2f2"), color="#b0b0b0",
                 label=_lines(escape(v.label) + (_gap(v.label) + grad if grad else "")))
    else:
        text = v.name if v.kind == "op" else v.label
        title = name_html(text)
        if v.kind == "op":
            title, text = title + " " + small(escape(v.label), "#444444"), f"{text} {v.label}"
        note = small(escape(v.note), "#666666") if v.note and v.kind != "copy" else ""
        style, fill, line = {"op": ("rounded,filled", "#e3eefb", "#5b7fa8"), "param": ("filled", "#fff1c2", "#b08a00"),
                             "copy": ("dashed,filled", "#fff8e0", "#b08a00"), "input": ("rounded", "white", "#777777"),
                             "const": ("rounded,dotted", "white", "#999999")}[v.kind]
        if v.kind == "op" and gate:
            fill = GATE_FILL.get(gate, "#f6f6f6")
        a.update(shape="box", style=style, fillcolor=fill, color=line,
                 label=_lines(title + (_gap(text) + grad if grad else ""), note, values=values))
    return a


def _gap(text):
    """The space between a box's text and its ∇: a space, and a thin space per dozen characters, as dot measures
    text up to a tenth of a point per character narrower than a browser draws it (the ∇ would touch it)."""
    return " " + "\u2009" * ((len(visible(text)) + 2) // 12)          # as drawn: at most MAX_LABEL long


def _cell_html(v, across=False):
    """A cell as a table with a port per input and output: inputs on the left and outputs on the right when
    data flows right; inputs along the top and outputs along the bottom when it flows down (across)."""
    title = f'<B>{escape(v.label)}</B> {small(f"{len(v.tape)} ops")}'
    port = lambda p, align="CENTER": f'<TD PORT="{p[0]}" ALIGN="{align}">{name_html(p[2])}</TD>'
    if across:
        width = max(len(v.inputs), len(v.outputs), 1)
        rows = ["".join(map(port, v.inputs)), f'<TD COLSPAN="{width}">{title}</TD>', "".join(map(port, v.outputs))]
        cells = "".join(f"<TR>{r}</TR>" for r in rows if r)
    else:
        cells = f'<TR><TD COLSPAN="2">{title}</TD></TR>'
        for i in range(max(len(v.inputs), len(v.outputs), 1)):
            left = port(v.inputs[i], "LEFT") if i < len(v.inputs) else "<TD></TD>"
            right = port(v.outputs[i], "RIGHT") if i < len(v.outputs) else "<TD></TD>"
            cells += f"<TR>{left}{right}</TR>"
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" STYLE="ROUNDED" '
            f'BGCOLOR="#eef3fb" COLOR="#5b7fa8">{cells}</TABLE>>')


def _cluster_attrs(c, font):
    a = {"id": c.id, "class": c.kind, "fontname": FONT, "labeljust": "l"}
    if c.kind == "step":
        a.update(label=plain_label(c.label), style="rounded", color="#9a9a9a", fontsize=font)
    elif c.kind == "scope":
        a.update(label=plain_label(c.label), style="rounded,dashed", color="#b5b5b5", fontsize=font, fontcolor="#666666")
    elif c.kind == "gate":
        key = c.label.replace(" ", "_")
        a.update(label=plain_label(c.label), style="rounded,filled", color="#d8d8d8", fontsize=font, fontcolor="#666666",
                 fillcolor=GATE_FILL.get(key, "#f6f6f6"))
    elif c.kind in ("before", "after"):
        a.update(label=plain_label(c.label), style="rounded,dashed", color="#c8c8c8", fontsize=font, fontcolor="#777777")
    else:
        a.update(label="", style="invis")
    return a


def _edge_attrs(e, lo, hi):
    a = {"id": e.id, "class": f"edge-{e.kind}"}
    if e.tip:
        a["tooltip"] = tooltip(e.tip)
    if e.kind == "link":                    # weight 0: the line may slant, the steps stay level
        a.update(color="#9ab0c8", penwidth="1.2", arrowhead="none", weight="0")
        return a
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
        # at the head end, beside the arrow: each number sits by the edge it belongs to, a fan-out's
        # numbers by their several targets; a head label costs no rank of its own (a label would)
        a.update(headlabel=fmt(e.grad), labelfontcolor="#444444", labeldistance="1.6", labelangle="-35")
    return a


def _legend(view, lo, hi, loss):
    k = 5
    if hi > lo:
        swatches = "".join(f'<TD BGCOLOR="{colour(i / (k - 1))}" WIDTH="26" HEIGHT="{2 + 3 * i}"></TD>'
                           for i in range(k))
        ticks = "".join(f"<TD>{small(fmt(lo * (hi / lo) ** (i / (k - 1))))}</TD>" for i in range(k))
    else:                                   # every edge carried the same norm (or none but 0): one colour
        swatches = f'<TD BGCOLOR="{colour(1.0)}" WIDTH="26" HEIGHT="14"></TD>' + '<TD WIDTH="26"></TD>' * (k - 1)
        alike = f"{fmt(hi)} on every coloured edge" if view.norm_range else "no edge carried more than 0"
        ticks = f'<TD COLSPAN="{k}" ALIGN="LEFT">{small(alike)}</TD>'
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
        notes.append(wrapped(text, 78, None))
    rows = [f'<TR><TD COLSPAN="{k}" ALIGN="LEFT"><B>gradient along an edge</B>: ‖∂{name}/∂·‖, log scale</TD></TR>',
            f"<TR>{swatches}</TR>", f"<TR>{ticks}</TR>"]
    rows += [f'<TR><TD COLSPAN="{k}" ALIGN="LEFT">{small(n, "#333333")}</TD></TR>' for n in notes]
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">{"".join(rows)}</TABLE>>'


def _table(view, lo, hi, loss):
    cols = view.columns
    head = "".join(f"<TD><B>{escape(c)}</B></TD>" for c in cols)
    rows = [f'<TR><TD ALIGN="LEFT"><B>‖∂{name_html(loss)}/∂W‖</B></TD>{head}<TD><B>total</B></TD></TR>']
    for w in view.weights:
        terms = "".join(f"<TD>{fmt(w.terms[c]) if w.terms.get(c) is not None else '·'}</TD>" for c in cols)
        rows.append(f'<TR><TD ALIGN="LEFT">{name_html(w.name)}</TD>{terms}<TD><B>{fmt(w.total)}</B></TD></TR>')
    foot = (f'<TR><TD COLSPAN="{len(cols) + 2}" ALIGN="LEFT">'
            f'{small("one term per step; the terms add up (as arrays) to the total, which is .grad", "#333333")}'
            "</TD></TR>")
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" COLOR="#bbbbbb">'
            f'{"".join(rows)}{foot}</TABLE>>')
