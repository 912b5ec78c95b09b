"""What a picture measures: its size, its smallest text, and both after scaling it to fit a slide.

graphviz writes SVG sizes in points (`width="1450pt"`) and draws in points inside a `scale(s)` transform;
a browser shows 1 pt as 4/3 px. `slide_fit(svg)` says how large the picture and its smallest name or number
(its subscripts aside) are once it is scaled, up or down, to fit a 1920x1080 slide; `boxes(svg)` where each
node and cluster sits (tests use it to check that every step is drawn the same way). `laid_out(graph)` is dot's
layout without a drawing, which `fitted_font` measures and `clear_head_labels` reads to keep each edge's number
off the boxes. `small_scripts(svg)` gives dot's sub- and superscripts their own size and baseline, and
`clear_arrowheads(svg)` keeps thick arrowheads off the boxes' text, as a browser needs them (viz.pipe applies
both to every SVG); `clear_laid_out_arrowheads` does the same for a PNG or PDF, on dot's layout.
"""
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import NamedTuple

PX_PER_PT = 4 / 3
SLIDE = (1920, 1080)
NS = "{http://www.w3.org/2000/svg}"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


@dataclass
class Fit:
    width: float                # the picture at its own size, px
    height: float
    font: float                 # its smallest text, px
    scale: float                # the factor that fits it to the slide (above 1: it may grow)
    fitted_font: float          # the smallest text on the slide, px

    def __str__(self):
        return (f"{self.width:.0f}x{self.height:.0f} px, smallest text {self.font:.1f} px; fitted to the slide "
                f"x{self.scale:.2f}: smallest text {self.fitted_font:.1f} px")


def _root(svg):
    return ET.fromstring(svg.encode("utf-8") if isinstance(svg, str) else svg)


def _transform(root):
    """(scale, dx, dy) of graphviz's top group: scale(s s) rotate(0) translate(dx dy)."""
    g = root.find(f"{NS}g")
    text = g.get("transform", "") if g is not None else ""
    scale = re.search(r"scale\(([\d.]+)", text)
    shift = re.search(r"translate\(([-\d.]+)[ ,]([-\d.]+)", text)
    return (float(scale[1]) if scale else 1.0, *(map(float, shift.groups()) if shift else (0.0, 0.0)))


def slide_fit(svg, slide=SLIDE):
    """Fit of an SVG written by graphviz (text or bytes) on a slide of `slide` px."""
    root = _root(svg)
    width, height = (float(root.get(k).removesuffix("pt")) * PX_PER_PT for k in ("width", "height"))
    scale = _transform(root)[0]
    sizes = [float(t.get("font-size")) for t in root.iter(f"{NS}text")      # a subscript is smaller on purpose
             if (t.text or "").strip() and t.get("class") not in SCRIPT_CLASS.values()]
    font = min(sizes) * scale * PX_PER_PT if sizes else float("inf")
    fit = min(slide[0] / width, slide[1] / height)
    return Fit(width, height, font, fit, font * fit)


def boxes(svg):
    """{id: (x0, y0, x1, y1)} of every node and cluster group, in points, y growing downwards."""
    root = _root(svg)
    _, dx, dy = _transform(root)
    out = {}
    for g in root.iter(f"{NS}g"):
        kind = g.get("class", "").split()
        if not kind or kind[0] not in ("node", "cluster") or not g.get("id"):
            continue
        xs, ys = [], []
        for shape in g.iter():              # a tooltip wraps the shapes in <g><a>...</a></g>
            if shape.tag in (f"{NS}polygon", f"{NS}polyline"):
                values = [float(v) for v in NUMBER.findall(shape.get("points", ""))]
            elif shape.tag == f"{NS}path":
                values = [float(v) for v in NUMBER.findall(shape.get("d", ""))]
            elif shape.tag == f"{NS}ellipse":
                cx, cy, rx, ry = (float(shape.get(k)) for k in ("cx", "cy", "rx", "ry"))
                values = [cx - rx, cy - ry, cx + rx, cy + ry]
            elif shape.tag == f"{NS}text":
                values = [float(shape.get("x")), float(shape.get("y"))]
            else:
                continue
            xs += values[0::2]
            ys += values[1::2]
        if xs:
            out[g.get("id")] = (min(xs) + dx, min(ys) + dy, max(xs) + dx, max(ys) + dy)
    return out


READABLE = 12            # px: the smallest text a slide should show


class NoDot(RuntimeError):
    """graphviz's `dot` program is missing: a layout cannot be measured."""


def laid_out(graph):
    """dot's layout of `graph` (a Digraph) as json, without drawing: every position and size in points."""
    import graphviz

    from . import pipe                                   # dot's failures as viz.DotFailed, its retries
    try:
        return json.loads(pipe(graph, "json").decode("utf-8"))
    except graphviz.ExecutableNotFound:
        raise NoDot("dot not found") from None


def fitted_font(layout, font, slide=SLIDE):
    """The px height of `font`-point text once the picture `layout` (laid_out's) is fitted to a slide."""
    width, height = (float(v) for v in layout["bb"].split(",")[2:])      # points
    return font * min(slide[0] / width, slide[1] / height)


class Spot(NamedTuple):
    """Where an edge's number sits: labelangle degrees from the edge's stretch at that end, labeldistance * 10
    points from it; at the arrow's tip (end "head", dot.py's) or, where that is crowded, at the edge's start."""
    angle: float
    distance: float
    end: str = "head"


# Where an edge's number may sit around its arrow, nearest first: (labelangle in degrees, labeldistance); the
# first is dot.py's. A number is digits 0.9 em high (label_width: how wide) with a point of air around it; a
# point of another edge's line inside it costs as much as a 5 x 5 corner of a box, a point of its own line a
# tenth of that (a number beside its line shows which line it belongs to; across it, the line hides a digit).
HEAD_LABEL_SPOTS = tuple(Spot(angle, distance) for distance in (1.6, 2.4, 3.4)
                         for angle in (-35, 35, -70, 70, -110, 110, -145, 145, 180))
# At an edge's start only the spots beside its first stretch: farther out a number reads as a neighbour's.
TAIL_LABEL_SPOTS = tuple(Spot(s.angle, s.distance, "tail") for s in HEAD_LABEL_SPOTS
                         if s.distance <= 2.4 and abs(s.angle) <= 70)
TITLE_AIR = 8.0      # points kept clear either side of a cluster's title ("lstm 0" would read as one name)
DIGIT_HEIGHT, LABEL_AIR, LINE_POINT_COST, OWN_LINE_POINT_COST, BOX_POINT2_COST = 0.9, 1.0, 100.0, 10.0, 4.0


def clear_head_labels(layout):
    """{edge id: Spot} for each edge number (head label) that covers a box, another edge's line, a cluster's
    frame or an earlier number where it is: the first spot of HEAD_LABEL_SPOTS that is clear; where none is,
    the least covering of those and of TAIL_LABEL_SPOTS, beside the edge's first stretch (its start is often
    less crowded than the port it points at).
    graphviz puts a head label's centre labeldistance * 10 points from the arrow's tip, labelangle degrees
    from the edge's last stretch (a tail label: from its start and first stretch); the label's width is
    estimated (label_width)."""
    taken = _Grid()
    for o in layout.get("objects", []):
        if "nodes" not in o and "pos" in o:                                       # a node
            taken.add_box(_node_box(o))
        elif "bb" in o:                                                           # a cluster: its frame
            for x, y in _frame(o["bb"]):                                          # and its title
                taken.add_point(x, y, None)
            if "lp" in o and "lwidth" in o:
                x0, y0, x1, y1 = _box(o["lp"], o["lwidth"], o["lheight"])    # a number right after a title
                taken.add_box((x0 - TITLE_AIR, y0, x1 + TITLE_AIR, y1))       # reads as part of it
    edges = [e for e in layout.get("edges", []) if "pos" in e and "invis" not in e.get("style", "")]
    for k, e in enumerate(edges):
        for x, y in _curve(e["pos"]):
            taken.add_point(x, y, k)
    moved = {}
    for k, e in enumerate(edges):
        if "headlabel" not in e:
            continue
        size = float(e.get("labelfontsize", e.get("fontsize", 14)))
        half = (label_width(e["headlabel"], size) / 2 + LABEL_AIR, DIGIT_HEIGHT * size / 2 + LABEL_AIR)
        where = Spot(float(e.get("labelangle", -25)), float(e.get("labeldistance", 1)))
        spots = [where] + [s for s in HEAD_LABEL_SPOTS if s != where]
        cost, spot, box = _clearest(*_arrow(e["pos"]), spots, half, taken, k)
        if cost:                                                  # crowded: its start, if less so
            tail = _clearest(*_start(e["pos"]), TAIL_LABEL_SPOTS, half, taken, k)
            cost, spot, box = tail if tail[0] < cost else (cost, spot, box)
        taken.add_box(box)
        if spot != where and "id" in e:
            moved[e["id"]] = spot
    return moved


def _clearest(tip, towards, spots, half, taken, own):
    """(cost, spot, label box): the first of `spots` whose box covers nothing in `taken`, else the one covering
    least (the `own` edge's line counts less)."""
    tried = []
    for k, spot in enumerate(spots):
        box = _label_box(tip, towards, spot, half)
        tried.append((taken.covered(box, own), k, spot, box))
        if tried[-1][0] == 0:
            break
    cost, _, spot, box = min(tried)
    return cost, spot, box


class _Grid:
    """Boxes and points of lines on 20-point cells: what a box covers, without looking at all of them."""
    CELL = 20.0

    def __init__(self):
        self.boxes, self.points = {}, {}             # cell -> the boxes reaching into it; the points in it

    def _cells(self, box):
        x0, y0, x1, y1 = (int(v // self.CELL) for v in box)
        return [(i, j) for i in range(x0, x1 + 1) for j in range(y0, y1 + 1)]

    def add_box(self, box):
        for cell in self._cells(box):
            self.boxes.setdefault(cell, []).append(box)

    def add_point(self, x, y, whose):
        self.points.setdefault((int(x // self.CELL), int(y // self.CELL)), []).append((x, y, whose))

    def covered(self, box, own):
        """BOX_POINT2_COST per square point of the boxes `box` overlaps, plus LINE_POINT_COST per point of a
        line inside it (OWN_LINE_POINT_COST for a point of `own`'s line): a number over a box's text reads
        worse than one a line crosses."""
        x0, y0, x1, y1 = box
        cells = self._cells(box)
        boxes = {id(b): b for cell in cells for b in self.boxes.get(cell, ())}    # a box spans several cells
        lines = sum((OWN_LINE_POINT_COST if whose == own else LINE_POINT_COST)
                    for cell in cells for x, y, whose in self.points.get(cell, ()) if x0 < x < x1 and y0 < y < y1)
        return BOX_POINT2_COST * sum(_area(box, b) for b in boxes.values()) + lines


def _frame(bb, every=8.0):
    """Points every few points along the sides of a cluster's bounding box "x0,y0,x1,y1"."""
    x0, y0, x1, y1 = (float(v) for v in bb.split(","))
    nx, ny = max(1, int((x1 - x0) // every)), max(1, int((y1 - y0) // every))
    across = [x0 + (x1 - x0) * i / nx for i in range(nx + 1)]
    down = [y0 + (y1 - y0) * j / ny for j in range(ny + 1)]
    return [(x, y) for x in across for y in (y0, y1)] + [(x, y) for y in down for x in (x0, x1)]


def _splines(pos):
    """An edge's `pos` ("s,x,y e,x,y x1,y1 x2,y2 ...", splines split by ';'): ({"s"/"e": its start or end
    point, where an arrowhead is drawn}, the control points of each spline)."""
    ends, splines = {}, []
    for spline in pos.split(";"):
        splines.append([])
        for token in spline.split():
            parts = token.split(",")
            if parts[0] in ("s", "e"):
                ends[parts[0]] = (float(parts[1]), float(parts[2]))
            else:
                splines[-1].append((float(parts[0]), float(parts[1])))
    return ends, splines


def _bezier(p0, p1, p2, p3, t):
    """The point at t of the cubic Bezier piece p0..p3."""
    w = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3)
    return tuple(w[0] * p0[c] + w[1] * p1[c] + w[2] * p2[c] + w[3] * p3[c] for c in (0, 1))


def _curve(pos, spacing=4.0):
    """Points along an edge's curve, at most about `spacing` points apart (at least 8 per cubic piece): a long
    straight piece sampled sparsely would let a number sit across the line between two samples."""
    found = []
    for points in _splines(pos)[1]:
        for k in range(0, len(points) - 3, 3):
            piece = points[k:k + 4]
            n = max(8, math.ceil(sum(math.dist(a, b) for a, b in zip(piece, piece[1:])) / spacing))
            found += [_bezier(*piece, i / n) for i in range(n + 1)]
    return found


def label_width(text, size):
    """A number's width in points, in Helvetica: 0.556 em per digit (and e, -), 0.278 em per '.'."""
    return size * (0.556 * len(text) - 0.278 * text.count("."))


def _arrow(pos):
    """(the arrow's tip, the point graphviz measures the label's angle from) of an edge's `pos`: the tip and
    the last control point; without an arrowhead, the curve's end and the point at 0.9 of its last piece."""
    ends, splines = _splines(pos)
    points = splines[-1]                                   # the last spline ends at the head
    if "e" in ends:
        return ends["e"], points[-1]
    return points[-1], _bezier(*points[-4:], 0.9)


def _start(pos):
    """The same at the edge's start, where graphviz puts a tail label: its first point (an arrow's tip at the
    tail: "s") and the point at 0.1 of its first piece (that arrow's base: the first control point)."""
    ends, splines = _splines(pos)
    points = splines[0]
    if "s" in ends:
        return ends["s"], points[0]
    return points[0], _bezier(*points[:4], 0.1)


def _label_box(tip, towards, spot, half):
    angle = math.atan2(towards[1] - tip[1], towards[0] - tip[0]) + math.radians(spot[0])
    x, y = tip[0] + 10 * spot[1] * math.cos(angle), tip[1] + 10 * spot[1] * math.sin(angle)
    return (x - half[0], y - half[1], x + half[0], y + half[1])


def _box(pos, width, height):
    """The box (x0, y0, x1, y1) in points of dot's centre "x,y" (points) and width and height (inches)."""
    x, y = (float(v) for v in pos.split(","))
    half_w, half_h = 36 * float(width), 36 * float(height)
    return (x - half_w, y - half_h, x + half_w, y + half_h)


def _node_box(o):
    return _box(o["pos"], o["width"], o["height"])


def _area(a, b):
    """The area two boxes (x0, y0, x1, y1) share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


SCRIPT_SCALE = 0.8
SCRIPT_RISE = {"sub": -0.3, "super": 0.4}   # how far a script's baseline moves, in the line's font size
SCRIPT_CLASS = {"sub": "tg-sub", "super": "tg-super"}   # how the SVG marks them (a page's own .sub is not ours)
_SCRIPT_TEXT = re.compile(r'<text\b([^>]*?)\sbaseline-shift="(sub|super)"([^>]*)>')


def small_scripts(svg):
    """An SVG written by graphviz with its sub- and superscripts drawn as its PNG draws them, in every browser.

    graphviz writes h<SUB>1</SUB> as a text of the full font size with baseline-shift="sub", which Chromium
    draws full size and half a line lower (over the line below) and Firefox does not shift at all. Each script
    becomes a text of SCRIPT_SCALE the size with its own baseline (y), marked with its SCRIPT_CLASS."""
    return _SCRIPT_TEXT.sub(_script_text, svg)


def _script_text(m):
    attrs, kind = m[1] + m[3], m[2]
    size = float(re.search(r'\bfont-size="([\d.]+)"', attrs)[1])
    y = float(re.search(r'\by="([-\d.]+)"', attrs)[1]) - SCRIPT_RISE[kind] * size
    attrs = re.sub(r'\bfont-size="[\d.]+"', f'font-size="{size * SCRIPT_SCALE:.2f}"', attrs)
    attrs = re.sub(r'\by="[-\d.]+"', f'y="{y:.2f}"', attrs)
    return f'<text class="{SCRIPT_CLASS[kind]}"{attrs}>'


_ARROWHEAD = re.compile(r'(<polygon\b[^>]*\bstroke-width="([\d.]+)"[^>]*\bpoints=")([^"]+)"')


def clear_arrowheads(svg):
    """An SVG written by graphviz with each thick arrowhead moved back until its outline stops at the box.

    graphviz (before 7) puts the triangle's tip on the box's border and then strokes it at the edge's width:
    the stroke's sharp corner reaches several points into the box, over the ∇ a thick edge points at."""
    return _ARROWHEAD.sub(_moved_back, svg)


def _moved_back(m):
    points = [tuple(map(float, p.split(","))) for p in m[3].split()]
    if len(points) != 4 or points[0] != points[3]:
        return m[0]                                  # not an arrowhead's triangle
    corners = points[:3]
    side = lambda k: math.dist(corners[(k + 1) % 3], corners[(k + 2) % 3])      # noqa: E731 (opposite k)
    tip = min(range(3), key=side)                    # the vertex across the base, the shortest side
    (tx, ty), base = corners[tip], [corners[k] for k in range(3) if k != tip]
    bx, by = (base[0][0] + base[1][0]) / 2, (base[0][1] + base[1][1]) / 2
    length, half_width = math.dist((tx, ty), (bx, by)), side(tip) / 2
    if length == 0 or half_width == 0:
        return m[0]
    reach = _stroke_reach(float(m[2]), half_width / length)
    dx, dy = (tx - bx) / length * reach, (ty - by) / length * reach
    moved = " ".join(f"{x - dx:.2f},{y - dy:.2f}" for x, y in points)
    return f'{m[1]}{moved}"'


def _stroke_reach(width, slope):
    """How far beyond its tip a triangle's outline stroked `width` wide reaches: the mitred corner of sides
    whose half-width grows by `slope` per unit of length, (width / 2) / sin(half the tip's angle)."""
    return width / 2 * math.hypot(1, slope) / slope


_HEAD_SLOPE = 0.35      # graphviz's "normal" arrowhead: its half-width is 0.35 of its length
# graphviz writes an edge's attributes in alphabetical order, so its penwidth comes right before its pos; a pos
# of several splines (";") is left as it is
_EDGE_POS = re.compile(r'(\bpenwidth=)([\d.]+)(,\s*pos=")([^";]+)"')
# the invisible edges dot.py adds to order the steps: nothing to draw, but neato -n2 would fit the canvas to them
_INVISIBLE_EDGE = re.compile(r'^\t*\S+ -> \S+\t\[pos="[^"]*",\s*style=invis,\s*weight=0\];\n', re.M)


def clear_laid_out_arrowheads(laid_out):
    """The same for a raster picture: dot's layout (`dot -Tdot`) with each arrowhead (at an edge's end, or at its
    start for dir=back) and the end of its line moved back until the arrowhead's outline stops at the box, for
    `neato -n2` to draw. Two invisible points on the corners of dot's bounding box, and no invisible edges, keep
    the canvas dot's own (neato -n2 fits it to what it is given, without dot's margins)."""
    text = _INVISIBLE_EDGE.sub("", laid_out.replace("\\\n", ""))
    text = _EDGE_POS.sub(lambda m: f'{m[1]}{m[2]}{m[3]}{_arrows_moved_back(m[4], float(m[2]))}"', text)
    bb = re.search(r'\bbb="([^"]+)"', text)
    if bb is None:
        return text
    x0, y0, x1, y1 = bb[1].split(",")
    corners = "".join(f'\ttg_canvas_{k} [label="", shape=point, style=invis, width=0, height=0, pos="{x},{y}"];\n'
                      for k, (x, y) in enumerate(((x0, y0), (x1, y1))))
    end = text.rstrip().rindex("}")
    return text[:end] + corners + text[end:]


def _arrows_moved_back(pos, width):
    """An edge's `pos` ("s,x,y e,x,y x1,y1 ...") with each arrowhead and the two points of the line next to it
    moved back together."""
    ends, (points,) = _splines(pos)
    if "e" in ends:
        ends["e"], points = _end_moved_back(ends["e"], points, width)
    if "s" in ends:                                          # the same, walking the line from its other end
        ends["s"], backwards = _end_moved_back(ends["s"], points[::-1], width)
        points = backwards[::-1]
    marks = [f"{k},{ends[k][0]:.2f},{ends[k][1]:.2f}" for k in ("s", "e") if k in ends]
    return " ".join(marks + [f"{x:.2f},{y:.2f}" for x, y in points])


def _end_moved_back(tip, points, width):
    """(tip, points) with the arrowhead drawn from points[-1] to `tip`, and the last two points, moved back along
    the arrow by the stroke's reach beyond the tip (never past the start of the line's last curve)."""
    end = points[-1]
    length = math.dist(end, tip)
    if length == 0 or len(points) < 4:
        return tip, points
    shift = min(_stroke_reach(width, _HEAD_SLOPE), 0.9 * math.dist(points[-4], end)) / length
    dx, dy = (tip[0] - end[0]) * shift, (tip[1] - end[1]) * shift
    return (tip[0] - dx, tip[1] - dy), points[:-2] + [(x - dx, y - dy) for x, y in points[-2:]]


def fluid(svg):
    """An SVG written by graphviz that scales down to the width of its container (a notebook's output cell,
    a page) and never grows past its own size: width 100%, max-width its size in px, height from the
    viewBox."""
    head, sep, rest = svg.partition("<svg")
    tag, close, body = rest.partition(">")
    width = re.search(r'\bwidth="([\d.]+)pt"', tag)
    if not sep or not width:
        return svg
    px = float(width[1]) * PX_PER_PT
    tag = re.sub(r'\s(width|height)="[^"]*"', "", tag)
    return f'{head}<svg width="100%" style="max-width:{px:.0f}px;height:auto"{tag}{close}{body}'
