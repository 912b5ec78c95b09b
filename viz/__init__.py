"""viz: draw and play what the tinygrad_rnn tape recorded (graphviz). Reads the tape; the core never imports it.

    viz.draw(loss)               -> graphviz.Digraph (shows inline in Jupyter; .render() / .pipe() as usual)
    viz.save(loss, "lstm.svg")   -> the path written; the format comes from the suffix (.svg .png .pdf .dot)
    viz.player(loss, "backprop.html") -> a Player: one self-contained HTML page stepping through backprop
                                    (runs the backward walk; shows inline in Jupyter). The module is viz/player.py.
"""
import os
import re

from tinygrad_rnn.files import write_bytes, write_text

FORMATS = ("svg", "png", "pdf", "dot")
FEW_STEPS = 4            # layout="auto": draw this many steps when all the default's do not fit a slide
INSTALL = ("install graphviz's `dot` program (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
           "graphviz; conda: conda install -c conda-forge graphviz)")


class DotNotFound(OSError):
    """The `dot` program is missing: the DOT source was written instead of the picture."""


def draw(tensor, detail="auto", grads=True, values=False, shared="auto", max_steps=None, title=None,
         layout="auto", columns=None, font=None, folded=False):
    """The unrolled graph that produced `tensor` (typically the loss) as a graphviz.Digraph.

    detail: "ops" (one vertex per op, gates as fill colours), "cells" (one box per cell and step),
            "auto" (ops while the picture fits a slide, see layout).
    grads:  after backward(), colour, width and label every edge by the norm of the gradient sent along it.
    values: print (abbreviated) values on named tensors and leaves.
    shared: how a weight used at several steps is drawn — "copies" (a dashed copy in each step plus a table
            of per-step terms; "auto" is this), "edges" (one vertex, an edge per use: the steps are then
            joined, and dot may arrange them differently).
    max_steps: draw at most this many steps; the middle ones collapse into one `t=a … t=b` box
            (default 6 at ops detail, fewer for big cells so that about 240 ops are drawn; 8 at cells detail;
            layout="auto" draws FEW_STEPS, the first two and the last two, when those do not fit a slide).
    layout: "lr" (steps side by side, time left to right, data flowing down in each), "tb" (one row per
            step, time top to bottom, data flowing right), "wrap" (rows of `columns` steps), "auto" (the first
            whose text is at least 12 px high on a 1920x1080 slide of: lr, tb, then, when detail="auto", cells
            detail in lr and tb; the same again with FEW_STEPS steps unless max_steps is given; then two rows
            of steps; needs `dot`). In "lr" and "tb" every step is drawn the same way (each step is
            laid out alone; a port box names the state it reads); in "wrap" the steps of a row are joined
            and their arrangement is dot's.
    font:   the size of every name and number, in points (default 14).
    folded: draw the loop rolled up instead (viz/folded.py): each loop's cell once, its state looping back,
            each weight once with ‖.grad‖ and the spread of its per-step terms; the size does not grow with
            the number of steps. detail, shared, max_steps, layout, columns and values do not apply.
    The Digraph (a dot.Picture) shows inline in Jupyter at most as wide as the cell (viz.fit.fluid).
    """
    from tinygrad_rnn import Tensor
    from tinygrad_rnn.core.mode import gc_paused

    from .dot import FONT_SIZE, LAYOUTS
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected the Tensor whose graph to draw (typically the loss), got "
                        f"{type(tensor).__name__}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"draw: max_steps must be a positive integer or None, got {max_steps!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw: title must be a string or None, got {type(title).__name__}")
    if layout not in LAYOUTS:
        raise ValueError(f"draw: layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if columns is not None and (isinstance(columns, bool) or not isinstance(columns, int) or columns < 1):
        raise ValueError(f"draw: columns must be a positive integer or None, got {columns!r}")
    font = FONT_SIZE if font is None else font
    if isinstance(font, bool) or not isinstance(font, (int, float)) or not 4 <= font <= 72:
        raise ValueError(f"draw: font must be a size in points between 4 and 72, got {font!r}")
    if not isinstance(folded, bool):
        raise TypeError(f"draw: folded must be True or False, got {type(folded).__name__}")
    if folded:
        return _folded(tensor, detail, grads, values, shared, max_steps, title, layout, columns, font)
    with gc_paused():                # reading a long tape makes many objects and no cycles: scanning them is waste
        return _layout(tensor, detail, grads, values, shared, max_steps, title, layout, columns, font)


def _layout(tensor, detail, grads, values, shared, max_steps, title, layout, columns, font):
    """The Digraph in the layout asked for, or (layout="auto") the first of these whose text is at least
    fit.READABLE px high on a 1920x1080 slide: steps side by side, one row per step, then (detail="auto")
    cells side by side and one row per step; the same with only FEW_STEPS steps drawn (unless max_steps says
    how many); then two rows of steps. If none is, the one with the largest text."""
    from . import fit
    from .dot import to_dot
    from .view import build, read
    views, reading = {}, read(tensor)         # the tape is read once for every view tried

    def candidate(detail, layout, columns=None, steps=max_steps, spots=None):
        if (detail, steps) not in views:
            views[detail, steps] = build(tensor, detail, grads, values, shared, steps, reading)
            check_layout(views[detail, steps])
        return to_dot(views[detail, steps], title, layout, columns, font, spots=spots)

    def measured(args):
        """(the candidate's picture, dot's layout of it, or None without dot)."""
        graph = candidate(*args)
        try:
            return graph, fit.laid_out(graph)
        except fit.NoDot:
            return graph, None

    def finished(args, graph, layout):
        """The picture with each edge number moved off the boxes it would cover."""
        spots = fit.clear_head_labels(layout) if layout else None
        return candidate(*args, spots=spots) if spots else graph

    if layout != "auto":
        return finished((detail, layout, columns), *measured((detail, layout, columns)))
    first = build(tensor, detail, grads, values, shared, max_steps, reading)
    check_layout(first)
    views[first.detail, max_steps] = first
    details = [first.detail] + (["cells"] if detail == "auto" and first.detail == "ops" else [])
    tries = [(d, lay) for d in details for lay in ("lr", "tb")]
    if max_steps is None:
        tries += [(d, lay, None, FEW_STEPS) for d in details for lay in ("lr", "tb")]
    tries.append((first.detail, "wrap", -(-len(first.steps) // 2)))
    best = None
    for args in tries:
        if args[3:] and len(views[args[0], max_steps].steps) <= FEW_STEPS + 1:
            continue                        # as many steps already (or one hidden alone): nothing to gain
        graph, layout = measured(args)
        if layout is None:
            return candidate(first.detail, "tb")    # nothing to measure with: one row per step
        score = fit.fitted_font(layout, font)
        if score >= fit.READABLE:
            return finished(args, graph, layout)
        if best is None or score > best[0]:
            best = (score, args, graph, layout)
    return finished(*best[1:])


def _folded(tensor, detail, grads, values, shared, max_steps, title, layout, columns, font):
    """The folded picture; the options of the unrolled one that it has no use for are refused by name."""
    from tinygrad_rnn.core.mode import gc_paused

    from .folded import fold, to_dot
    unused = {"detail": detail != "auto", "shared": shared != "auto", "max_steps": max_steps is not None,
              "layout": layout != "auto", "columns": columns is not None, "values": values}
    named = [name for name, given in unused.items() if given]
    if named:
        raise ValueError(f"draw: folded=True draws one step of each loop; {', '.join(named)} "
                         f"{'applies' if len(named) == 1 else 'apply'} to the unrolled picture only")
    with gc_paused():
        return to_dot(fold(tensor, grads), title, font)


MAX_FAN_OUT = 24         # one vertex feeding more ops than this (a weight used at every step of an unscoped loop)
MAX_VERTICES = 3000      # ... or this many vertices: graphviz's layout would take minutes, or never end


class TooLarge(ValueError):
    """The view is too big or too tangled for graphviz to lay out in reasonable time; the message says what to do."""


def check_layout(view):
    """Refuse, with advice, a view that graphviz's `dot` cannot lay out in reasonable time.

    Time steps found in the scopes (`t=<k>`) let the view draw shared weights once per step and elide the
    middle steps, so a scoped unroll of any length stays small. Without them a weight used at every step is
    one vertex with an edge to each use, and dot's crossing minimisation grows explosively with that fan-out
    (50 unscoped steps of `h = tanh(x_t @ W + h @ U)` do not finish in minutes)."""
    fan = {}
    for e in view.edges:
        fan[e.src] = fan.get(e.src, 0) + 1
    widest = max(fan, key=fan.get, default=None)
    advice = ("wrap each time step in `with tinygrad_rnn.scope(f\"t={t}\"):` (the recurrent layers do), so that "
              "viz draws shared weights per step and elides the middle steps; or draw a shorter unroll")
    if widest is not None and fan[widest] > MAX_FAN_OUT:
        label = view.vertices[widest].name or view.vertices[widest].label if widest in view.vertices else widest
        raise TooLarge(f"draw: {label!r} feeds {fan[widest]} ops in a graph of {len(view.vertices)} vertices "
                       f"without time steps to fold; graphviz would take minutes to lay it out. To draw it, {advice} "
                       "(viz.MAX_FAN_OUT holds the limit)")
    if len(view.vertices) > MAX_VERTICES:
        raise TooLarge(f"draw: {len(view.vertices)} vertices are too many to lay out in reasonable time; if the "
                       f"graph is an unrolled loop, {advice}; or pass detail='cells' and a smaller max_steps "
                       "(viz.MAX_VERTICES and viz.MAX_FAN_OUT hold the limits)")


def save(tensor, path, **options):
    """Draw `tensor` (options as for draw) into `path`, in the format its suffix names."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save: path must be a str or os.PathLike such as 'lstm.svg', got {type(path).__name__}")
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"save: cannot tell the format of {path!r}; use one of "
                         + ", ".join("." + f for f in FORMATS))
    graph = draw(tensor, **options)
    if fmt == "dot":
        return write_text(path, graph.source, "save")
    return render(graph, path, fmt)


def render(graph, path, fmt):
    """Run `dot` on the Digraph; without it, write the DOT source next to `path` and raise DotNotFound."""
    import graphviz
    try:
        data = pipe(graph, fmt)
    except graphviz.ExecutableNotFound:
        source = write_text(os.path.splitext(path)[0] + ".dot", graph.source, "save")
        raise DotNotFound(f"cannot render {path}: graphviz's `dot` program was not found, so the DOT source "
                          f"was written to {source}; {INSTALL}, then run: dot -T{fmt} {source} -o {path}") from None
    return write_bytes(path, data, "save")


class DotFailed(RuntimeError):
    """graphviz's `dot` program failed on a picture; the message holds what dot said."""


def pipe(graph, fmt):
    """The picture as bytes in format `fmt`, from `dot`, its thick arrowheads kept off the boxes' text (graphviz
    strokes them several points into the box): an SVG's moved in the SVG, with its subscripts drawn smaller
    (fit.clear_arrowheads, fit.small_scripts); a PNG's or PDF's moved in dot's layout, which `neato -n2` then
    draws (fit.clear_laid_out_arrowheads).
    A failure of dot is a DotFailed naming dot's own message (graphviz.ExecutableNotFound, for a missing dot,
    passes through)."""
    import graphviz

    from .fit import clear_arrowheads, clear_laid_out_arrowheads, small_scripts
    if fmt == "svg":
        return clear_arrowheads(small_scripts(_dot(graph, fmt).decode("utf-8"))).encode("utf-8")
    if fmt not in ("png", "pdf"):
        return _dot(graph, fmt)
    laid_out = clear_laid_out_arrowheads(_dot(graph, "dot").decode("utf-8"))
    return _dot(graphviz.Source(laid_out, engine="neato"), fmt, neato_no_op=2)


def _dot(graph, fmt, **how):
    import graphviz
    try:
        try:
            return graph.pipe(format=fmt, **how)
        except graphviz.CalledProcessError as err:   # dot's rare "trouble in init_rank": retry without groups
            if b"init_rank" not in (err.stderr or b""):
                raise
            return graphviz.Source(re.sub(r"\bgroup=\w+", "", graph.source)).pipe(format=fmt, **how)
    except graphviz.CalledProcessError as err:
        said = (err.stderr or b"").decode("utf-8", "replace").strip() or f"exit status {err.returncode}"
        raise DotFailed(f"graphviz's {graph.engine} could not draw the picture ({fmt}): {said[:500]}") from None
    except (BrokenPipeError, ConnectionResetError) as err:
        raise DotFailed(f"graphviz's {graph.engine} stopped reading the picture's DOT source ({fmt}) before its end: "
                        f"{err}") from None


# binds viz.player to the function (the module stays importable as importlib.import_module("viz.player"))
from .player import Player as Player
from .player import player as player
