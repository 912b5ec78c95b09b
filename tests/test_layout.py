"""Pictures for a classroom, measured on the SVG that dot writes: the CLI's default pictures fit a 1920x1080
slide with every name and number at least 12 px high, and every step of a layer is drawn the same way."""
import math
import re
import shutil
import struct
from collections import Counter, defaultdict

import pytest

import viz
from viz import fit as measure
from viz.cli import main
from viz.cli.draw import build_loss
from viz.fit import READABLE, boxes, fluid, slide_fit
from viz.view import build

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")


@pytest.mark.parametrize("argv", [["--model", "seed"], ["--model", "lstm", "--steps", "2", "--detail", "ops"],
                                  ["--model", "lstm", "--steps", "4"]])
def test_cli_defaults_fit_a_slide_with_readable_text(argv, tmp_path, capsys):
    out = tmp_path / "picture.svg"
    assert main(["draw", *argv, "--out", str(out)]) == 0
    fit = slide_fit(out.read_text())
    print(" ".join(argv), fit)
    assert fit.fitted_font >= READABLE                  # every text element, scaled with the picture
    assert fit.font >= READABLE                         # and at the picture's own size (a notebook)
    assert fit.width * fit.scale <= 1920.5 and fit.height * fit.scale <= 1080.5


def test_slide_fit_reads_graphviz_sizes():
    svg = ('<svg width="1440pt" height="405pt" viewBox="0 0 1440 405" xmlns="http://www.w3.org/2000/svg">'
           '<g transform="scale(1 1) rotate(0) translate(4 401)"><text font-size="9.00">a</text>'
           '<text font-size="14.00">b</text></g></svg>')
    fit = slide_fit(svg)
    assert (fit.width, fit.height, fit.font) == (1920, 540, 12)
    assert fit.scale == 1 and fit.fitted_font == 12
    wide = fluid(svg)
    assert 'width="100%"' in wide and "max-width:1920px" in wide and 'height="405pt"' not in wide


def test_inline_svg_scales_to_the_cell():
    loss, _ = build_loss("lstm", 2)
    picture = viz.draw(loss)
    svg = picture._repr_mimebundle_()["image/svg+xml"]
    assert re.search(r'<svg width="100%" style="max-width:\d+px;height:auto"', svg)
    assert "viewBox" in svg


def test_a_script_gets_its_own_smaller_text_and_baseline():
    """graphviz's baseline-shift is drawn half a line low by Chromium and not at all by Firefox."""
    svg = ('<text text-anchor="start" x="5" y="-20" font-size="10.00">h</text>'
           '<text text-anchor="start" x="11" y="-20" baseline-shift="sub" font-size="10.00">1</text>'
           '<text text-anchor="start" x="16" y="-20" baseline-shift="super" font-size="10.00">(1)</text>')
    got = measure.small_scripts(svg)
    assert got == ('<text text-anchor="start" x="5" y="-20" font-size="10.00">h</text>'
                   '<text class="tg-sub" text-anchor="start" x="11" y="-17.00" font-size="8.00">1</text>'
                   '<text class="tg-super" text-anchor="start" x="16" y="-24.00" font-size="8.00">(1)</text>')


def test_a_thick_arrowheads_outline_ends_where_graphviz_put_its_tip():
    """A triangle pointing down at (0, 10), stroked 2 wide: the stroke's mitred corner lies (w/2)/sin(half the
    tip's angle) beyond the tip, so the triangle moves back until that corner is where the tip was; a box's
    polygon is left alone."""
    svg = ('<polygon fill="red" stroke="red" stroke-width="2" points="-2,4 0,10 2,4 -2,4"/>'
           '<polygon fill="none" stroke="black" stroke-width="2" points="0,0 5,0 5,5 0,5 0,0"/>')
    got = measure.clear_arrowheads(svg)
    points = re.search(r'points="([^"]+)"', got)[1].split()
    (lx, ly), (tx, ty), (rx, ry) = (tuple(map(float, p.split(","))) for p in points[:3])
    tip_angle = math.atan2(rx - tx, ty - ry) - math.atan2(lx - tx, ty - ly)        # the angle between the sides
    assert (lx, rx, tx) == (-2, 2, 0) and ly == ry
    assert ty + 1 / math.sin(tip_angle / 2) == pytest.approx(10, abs=0.01)        # the corner on the old tip
    assert got.endswith('points="0,0 5,0 5,5 0,5 0,0"/>')


def test_a_long_line_is_sampled_densely_enough_that_no_number_fits_between_two_samples():
    points = measure._curve("e,300,5 0,0 100,0 200,0 296,0")
    gaps = [math.dist(a, b) for a, b in zip(points, points[1:])]
    assert max(gaps) <= 4.5 and points[0] == (0, 0) and points[-1] == pytest.approx((296, 0))


def test_an_edge_number_keeps_clear_of_a_cluster_title_beside_it():
    """A number a few points after a cluster's title would read as part of it ("lstm 0"): it moves."""
    edge = {"id": "e1", "headlabel": "0", "fontsize": "14", "labelangle": "-35", "labeldistance": "1.6",
            "pos": "e,90,85 90,140 90,120 90,100 90,90"}
    title = {"bb": "0,0,300,300", "lp": "69,98", "lwidth": "0.5", "lheight": "0.25", "nodes": []}
    assert measure.clear_head_labels({"objects": [{"bb": "0,0,300,300", "nodes": []}], "edges": [edge]}) == {}
    moved = measure.clear_head_labels({"objects": [title], "edges": [edge]})
    assert set(moved) == {"e1"} and moved["e1"] != (-35, 1.6)


def test_a_raster_pictures_thick_arrowheads_move_back_in_dots_layout():
    """In a PNG or PDF the arrowhead moves in dot's layout: its tip, and the last two points of its line with it,
    by the same (w/2)/sin(half the tip's angle) along the edge; the canvas keeps dot's bounding box."""
    laid_out = ('digraph {\n\tgraph [bb="0,0,100,80"];\n\ta -> b\t[penwidth=2,\n\t\tpos="e,50,10 50,60 50,45 50,35 '
                '50,\\\n20"];\n\tc -> d\t[pos="e,5,5 5,30 5,20 5,15 5,11"];\n}\n')
    got = measure.clear_laid_out_arrowheads(laid_out)
    reach = 1 / math.sin(math.atan(measure._HEAD_SLOPE))
    pos = re.search(r'penwidth=2,\s*pos="([^"]+)"', got)[1].split()
    assert pos[0] == f"e,50.00,{10 + reach:.2f}"
    assert pos[1:] == ["50.00,60.00", "50.00,45.00", f"50.00,{35 + reach:.2f}", f"50.00,{20 + reach:.2f}"]
    assert 'pos="e,5,5 5,30 5,20 5,15 5,11"' in got                     # graphviz's default pen: left alone
    assert got.count("style=invis") == 2 and 'pos="0,0"' in got and 'pos="100,80"' in got


def test_a_raster_pictures_arrowhead_at_an_edges_start_moves_back_too():
    """A loop edge of the folded view is drawn dir=back: its arrowhead is at the start (s,x,y)."""
    laid_out = ('digraph {\n\tgraph [bb="0,0,100,80"];\n\ta -> b\t[dir=back,\n\t\tpenwidth=2,\n\t\tpos="s,50,70 50,60 '
                '50,45 50,35 50,20"];\n}\n')
    got = measure.clear_laid_out_arrowheads(laid_out)
    reach = 1 / math.sin(math.atan(measure._HEAD_SLOPE))
    pos = re.search(r'pos="([^"]+)"', got)[1].split()
    assert pos == [f"s,50.00,{70 - reach:.2f}", f"50.00,{60 - reach:.2f}", f"50.00,{45 - reach:.2f}", "50.00,35.00",
                   "50.00,20.00"]


@pytest.mark.parametrize("model,options", [("seed", {}), ("gru", {"layout": "wrap", "columns": 2}),
                                           ("gru", {"layout": "tb"}), ("lstm", {"folded": True})])
def test_a_png_is_drawn_on_dots_own_canvas(model, options, tmp_path):
    """neato -n2 fits its canvas to what it draws: the invisible edges that order the steps are left out and
    dot's bounding box is pinned, so the PNG is dot's size (a Bezier control point of a line may add a pixel)."""
    loss, _ = build_loss(model, 4)
    graph = viz.draw(loss, **options)
    viz.save(loss, tmp_path / "picture.png", **options)
    ours, dots = (tmp_path / "picture.png").read_bytes(), graph.pipe(format="png")
    assert ours[:8] == b"\x89PNG\r\n\x1a\n" and ours != dots
    size = lambda png: struct.unpack(">II", png[16:24])                  # noqa: E731 (the IHDR chunk)
    assert all(0 <= o - d <= 3 for o, d in zip(size(ours), size(dots))), (size(ours), size(dots))


def test_sub_and_superscripts_are_drawn_smaller_in_every_svg(tmp_path):
    """graphviz writes h<SUB>1</SUB> at the full font size; a browser would draw it over the line below."""
    page = viz.player(build_loss("lstm", 2, backward=False)[0]).html
    loss, _ = build_loss("lstm", 2)
    viz.save(loss, tmp_path / "lstm.svg")
    for svg in ((tmp_path / "lstm.svg").read_text(), viz.draw(loss)._repr_mimebundle_()["image/svg+xml"], page):
        assert "baseline-shift" not in svg.split("<svg", 1)[1].split("<script", 1)[0]     # a shift each browser reads its way
        scripts = re.findall(r'<text class="tg-(?:sub|super)"[^>]*font-size="([\d.]+)"', svg)
        plain = re.findall(r'<text(?! class="tg-)[^>]*font-size="([\d.]+)"', svg)
        assert scripts and round(14 * measure.SCRIPT_SCALE, 2) in {float(f) for f in scripts}   # h_1 by 14 pt text
        assert {round(float(f) / measure.SCRIPT_SCALE, 1) for f in scripts} <= {round(float(f), 1) for f in plain}


def _role(vertex):
    """What a vertex is within its step, the same at every step: h_2 and h_3 are both 'h'."""
    base = re.sub(r"_?\d+$", "", vertex.name or vertex.label)
    op = re.sub(r"^\[\d+\]$", "[t-1]", vertex.label)          # x W_ih^T row t-1: [0], [1], ...
    where = tuple(re.sub(r"^cluster_t\d+_", "", c) for c in vertex.cluster[1:])     # its layer and gate
    return base, op if vertex.kind == "op" else "tensor", where


def arrangement(view, svg, across=False):
    """Per step cluster: for each rank of vertices (data flowing right: a column, the same x), the roles in
    their order along it (top to bottom); across (data flowing down), a rank is a row, read left to right.
    The state a step reads (h_0 at step 1, the port of h_{t-1} later) counts as a vertex of the step."""
    box = _transposed(boxes(svg)) if across else boxes(svg)
    names = {vid: _role(v) for vid, v in view.vertices.items()}
    fed_by = defaultdict(list)
    for e in view.edges:
        fed_by[e.dst].append(names[e.src][0])
    for vid, v in view.vertices.items():        # an unnamed op told apart by what it reads ([6:9] of xW, of gh)
        if v.kind == "op" and not v.name:
            names[vid] += (tuple(sorted(fed_by[vid])),)
    for vid in box:
        if vid.startswith("link_"):                # link_<source vertex>_<port>_<step cluster>
            names[vid] = _link_role(view, vid[5:])
    members = defaultdict(list)
    for vid, (x0, y0, x1, y1) in box.items():
        if vid in names:
            step = next((c for c in box if re.fullmatch(r"cluster_t\d+", c) and _inside(box[c], box[vid])), None)
            if step:
                members[step].append((round((x0 + x1) / 2 - box[step][0]), (y0 + y1) / 2, names[vid]))
    out = {}
    for step, items in members.items():
        columns = defaultdict(list)
        for x, y, role in items:
            columns[x].append((y, role))
        count = Counter()
        out[step] = []
        for x in sorted(columns):
            roles = [role for _, role in sorted(columns[x])]
            out[step].append(tuple(roles))
            count.update(roles)
    return out


def _link_role(view, link):
    """The role of a port box: the state it brings in, as named in the step that made it (the elided block's
    port: the state the last hidden step made, in the layer of the drawn state of that name)."""
    if link.startswith("elided_"):
        port = link.split("_")[1]
        base = re.sub(r"_?\d+$", "", next(name for pid, _, name in view.vertices["elided"].outputs if pid == port))
        layer = next(v.layer for v in view.vertices.values() if v.kind == "op" and v.name
                     and re.sub(r"_?\d+$", "", v.name) == base)
        return base, "tensor", layer
    source = view.vertices[link.split("_", 1)[0] if link.startswith("op") else
                           re.match(r"(cell_\w+?_t\d+)_", link)[1]]
    return re.sub(r"_?\d+$", "", source.name or source.label), "tensor", source.layer


def _inside(outer, inner):
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _transposed(box):
    return {k: (y0, x0, y1, x1) for k, (x0, y0, x1, y1) in box.items()}


def _cluster_steps(svg):
    return {c: b for c, b in boxes(svg).items() if re.fullmatch(r"cluster_t\d+", c)}


CASES = [("lstm", 1, 3), ("lstm", 2, 3), ("gru", 1, 3), ("gru", 2, 3), ("rnn", 1, 4), ("rnn", 2, 3),
         ("seed", 1, 3), ("seed", 2, 4), ("lstm", 1, 12), ("gru", 2, 12)]    # the last two: middle steps hidden


def above(columns):
    """{(a, b)}: roles a and b in one column, a above b (roles met twice in a column are left out)."""
    out = set()
    for column in columns:
        once = [r for r in column if column.count(r) == 1]
        out |= {(a, b) for k, a in enumerate(once) for b in once[k + 1:]}
    return out


@pytest.mark.parametrize("layout", ["lr", "tb"])
@pytest.mark.parametrize("model,layers,steps", CASES)
def test_every_step_drawn_the_same_way(model, layers, steps, layout):
    """Steps side by side (lr) or one row per step (tb): any two vertices that share a rank at two steps --
    the gates, x_t, W, the previous state -- are in the same order at both; the steps in time order, side
    by side top-aligned (lr) or one under the other left-aligned (tb): no staircase."""
    loss, _ = build_loss(model, steps, layers)
    graph = viz.draw(loss, detail="ops", layout=layout)
    view = build(loss, "ops", shared="copies")
    svg = graph.pipe(format="svg", encoding="utf-8")
    seen = arrangement(view, svg, across=layout == "lr")
    assert len(seen) == len(view.steps) == min(steps, 6)
    orders = {step: above(columns) for step, columns in seen.items()}
    compared = 0
    for a in orders:
        for b in orders:
            flipped = {(x, y) for x, y in orders[a] if (y, x) in orders[b]}
            assert not flipped, (a, b, sorted(flipped)[:3])
            compared += len(orders[a] & orders[b])
    assert compared > 0
    rows = _cluster_steps(svg)
    if layout == "lr":
        rows = _transposed(rows)
    starts = [rows[f"cluster_t{t}"][1] for t in view.steps]
    assert starts == sorted(starts)                 # time runs down (tb) or right (lr)
    sides = [rows[c][0] for c in rows]
    assert max(sides) - min(sides) < 10, sides      # no staircase: every step starts at one x (tb), y (lr)


def test_numbers_of_edges_side_by_side_do_not_overlap():
    """h * h: two edges from h_T into one multiply, each with its number; the numbers sit apart."""
    import xml.etree.ElementTree as ET

    import numpy as np

    import tinygrad_rnn as tg
    tg.manual_seed(0)
    cell = tg.RNNCell(2, 3, dtype=np.float64)
    h = None
    for x in np.random.default_rng(0).normal(size=(3, 1, 2)):
        h = cell(x, h)
    loss = (h * h).sum()
    loss.backward(keep_grads=True)
    svg = viz.draw(loss).pipe(format="svg").decode("utf-8")
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring(svg[svg.index("<svg"):])
    numbered = [g for g in root.iter(f"{ns}g")
                if g.get("id", "").startswith("e_") and len(list(g.iter(f"{ns}text"))) == 1]
    by_pair = defaultdict(list)
    for g in numbered:
        title = g.find(f"{ns}title").text                       # "tail->head"
        (text,) = g.iter(f"{ns}text")
        size = float(text.get("font-size"))
        by_pair[title].append((float(text.get("x")), float(text.get("y")), 0.6 * size * len(text.text), size))
    (pair,) = [p for p, labels in by_pair.items() if len(labels) == 2]
    (x0, y0, w0, f0), (x1, y1, w1, f1) = by_pair[pair]
    apart_x = abs(x0 - x1) >= (w0 + w1) / 2             # centred texts: half of each width either side
    apart_y = abs(y0 - y1) >= (f0 + f1) / 2
    assert apart_x or apart_y, by_pair[pair]


def head_labels(layout):
    """(edge id, centre, half width, half height) of every edge number dot placed, at an arrow's tip or (where
    that was crowded) at an edge's start."""
    for e in layout["edges"]:
        for end in ("head", "tail"):
            if f"{end}_lp" in e:
                size = float(e.get("labelfontsize", e.get("fontsize", 14)))
                centre = tuple(map(float, e[f"{end}_lp"].split(",")))
                yield e["id"], centre, measure.label_width(e[f"{end}label"], size) / 2, measure.DIGIT_HEIGHT * size / 2


def test_in_the_players_crowded_gru_steps_a_number_may_cross_a_line_but_not_a_box():
    """The player draws without the table of terms; in a GRU's four steps no spot around some arrows is
    clear, and covering a box's text is worse than crossing a line: at most a sliver of a box."""
    from viz.dot import to_dot
    fit = measure
    loss, _ = build_loss("gru", 4)
    view = build(loss, "auto", True, False, "auto", None)
    spots = fit.clear_head_labels(fit.laid_out(to_dot(view, terms=False)))
    layout_json = fit.laid_out(to_dot(view, terms=False, spots=spots))
    nodes = [fit._node_box(o) for o in layout_json["objects"] if "nodes" not in o and "pos" in o]
    numbers = list(head_labels(layout_json))
    assert len(numbers) >= 8
    for eid, (x, y), half_w, half_h in numbers:
        box = (x - half_w, y - half_h, x + half_w, y + half_h)
        assert sum(fit._area(box, b) for b in nodes) <= 0.05 * (4 * half_w * half_h), eid


@pytest.mark.parametrize("model,layout", [("lstm", "tb"), ("lstm", "lr"), ("gru", "tb"), ("gru", "lr")])
def test_edge_numbers_sit_clear_of_the_boxes(model, layout):
    """No number on an edge covers a box or another edge's line (dot puts each at a fixed angle from its arrow,
    which in a crowded step can land on a neighbour: fit.clear_head_labels moves those). The angle rule fit.py computes
    is graphviz's own: it gives the positions dot reports."""
    fit = measure
    loss, _ = build_loss(model, 3)
    layout_json = fit.laid_out(viz.draw(loss, layout=layout, detail="ops"))
    nodes = [fit._node_box(o) for o in layout_json["objects"] if "nodes" not in o and "pos" in o]
    numbers = list(head_labels(layout_json))
    lines = fit._Grid()
    for e in layout_json["edges"]:
        for x, y in fit._curve(e["pos"]):
            lines.add_point(x, y, e.get("id"))
    assert len(numbers) >= 3
    for eid, (x, y), half_w, half_h in numbers:
        box = (x - half_w, y - half_h, x + half_w, y + half_h)
        covered = sum(fit._area(box, b) for b in nodes)     # none, or a sliver where no spot is clear
        crossed = lines.covered(box, eid) / fit.LINE_POINT_COST          # points of other edges' lines in it
        assert covered <= 0.1 * (4 * half_w * half_h) and crossed <= 1, (eid, box, covered, crossed)
        e = next(e for e in layout_json["edges"] if e["id"] == eid)
        tip, towards = fit._arrow(e["pos"]) if "headlabel" in e else fit._start(e["pos"])
        spot = (float(e["labelangle"]), float(e["labeldistance"]))
        assert fit._label_box(tip, towards, spot, (0, 0))[:2] == pytest.approx((x, y), abs=0.5)   # 2 decimals
