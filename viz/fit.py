"""What a picture measures: its size, its smallest text, and both after scaling it to fit a slide.

graphviz writes SVG sizes in points (`width="1450pt"`) and draws in points inside a `scale(s)` transform;
a browser shows 1 pt as 4/3 px. `slide_fit(svg)` says how large the picture and its smallest name or number
are once it is scaled, up or down, to fit a 1920x1080 slide; `boxes(svg)` where each node and cluster sits
(tests use it to check that every step is drawn the same way).
"""
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

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
    sizes = [float(t.get("font-size")) for t in root.iter(f"{NS}text") if (t.text or "").strip()]
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


def fitted_font(graph, font, slide=SLIDE):
    """The px height of `font`-point text once `graph` (a Digraph) is laid out by dot and fitted to a slide;
    dot's plain output gives the size in inches without drawing."""
    import graphviz
    try:
        plain = graph.pipe(format="plain", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise NoDot("dot not found") from None
    _, scale, width, height = plain.split("\n", 1)[0].split()[:4]
    width, height = (float(v) * float(scale) * 72 for v in (width, height))   # points
    return font * min(slide[0] / width, slide[1] / height)


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
