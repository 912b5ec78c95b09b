"""The HTML player: backprop through an unrolled network, one node per click, in one self-contained file.

    p = viz.player(loss, "backprop.html", names=dict(model.named_parameters()))
    p                      # in Jupyter: the player inline (an iframe holding the same page)

`player` runs the backward walk with a `Stepper` (so it *is* `loss.backward()`: the leaves get the same .grad),
lays the unrolled graph out once with graphviz (view.py + dot.py, whose vertex and edge ids survive in the SVG)
and writes one HTML file: the SVG, the step data as JSON, and the script and style of player.js / player.css,
all inline -- no network, no external scripts or fonts. The page only restyles the SVG per step, so nothing
moves: vertices not yet reached are faded, the current one is ringed, edges already traversed take the colour
and width of the gradient sent along them. A side panel shows upstream gradient x local derivative = the
contribution to each input (numbers, shapes, norms, a heatmap), the rule, and the running sums on shared weights
and on states that receive gradient from two places; a strip under the time steps fills with ||dE/ds_t||.
A quiz mode hides each step's contributions until the learner has guessed; a check button compares a gradient
with central finite differences computed here (stepper.finite_difference) and embedded in the page.

Formulas -- the op's rule, each contribution, the running sums of formula (2)/(3) with their numbers -- are MathML
made here from the ops' LaTeX (viz/mathml.py), with the upstream gradient written ∂E/∂y everywhere; each
contribution is also given as numpy code (g = ∂E/∂y), correct for the seed's 1-D row vectors (np.outer).
MathML rather than an inlined KaTeX: browsers draw it natively, so it costs the page its markup only (the seed's
player: 112 kB -> 148 kB, a 3-step LSTM's 288 kB -> 428 kB), where KaTeX 0.16 inlined (script, CSS, woff2 fonts
as base64) adds about 650 kB to every page and every notebook cell showing one. KaTeX's typesetting is finer
(TeX fonts and spacing); MathML Core draws what our formulas use (fractions, scripts, matrices) well. Without
latex2mathml (the `viz` extra) the page shows the plain-text rule and formulas instead.

Everything on the page is computed here, in Python, from the stepper's record; the script only picks what
to show for the current step. Arrays of up to FULL entries are kept whole (a quiz's guess needs every entry of
its operands); larger ones are summarised (first values, a heatmap of at most HEAT cells, the norm).
"""
import base64
import hashlib
import html
import json
import math
import os
import re

import numpy as np

from tinygrad_rnn.core import tape
from tinygrad_rnn.core.mode import time_step
from tinygrad_rnn.files import write_text
from tinygrad_rnn.core.ops import index_text, op_field
from tinygrad_rnn.teach.stepper import Stepper, finite_difference, norm
from tinygrad_rnn.teach.steps import step_of

from . import quiz
from .mathml import CSS as MATH_CSS, grad_latex, name_latex, operand, to_mathml
from .text import visible

HERE = os.path.dirname(os.path.abspath(__file__))
VALUES = 8                  # element values kept per array larger than FULL (row-major)
FULL = 48                   # arrays of at most this many elements are kept whole
HEAT = (12, 16)             # at most this many rows x columns of a matrix go into its heatmap
MAX_NODES = 2000            # a page holds one step per recorded op, with its numbers and formulas: a few MB
STATE = re.compile(r"^(.+?)_(\d+)$")
MAX_INDEX_SHOWN = 24        # index arrays of x[idx] up to this many elements are written out in its numpy code
CHECK_BUDGET = 150_000      # check="auto": node visits that finite differences may cost (about 2 s)
OP_FIELDS = ("symbol", "rule", "latex", "infix", "formula")   # what the page gets of each op's table entry


class Player:
    """The page, its data, and where it was written. Shows itself inline in Jupyter (`_repr_html_`)."""

    def __init__(self, page, data, path=None, stepper=None):
        self.html = page
        self.data = data              # what the page embeds as JSON (steps, vertices, edges, strip, leaves)
        self.path = path
        self.stepper = stepper        # the Stepper that ran the walk (its steps are what the page shows)

    def __len__(self):
        return len(self.data["steps"])

    def save(self, path):
        """Write the page to `path` (one self-contained .html file); returns the path."""
        self.path = path = write_text(path, self.html, "Player.save")
        return path

    def _repr_html_(self):
        """Jupyter: the page in an iframe (srcdoc), so its script and ids do not mix with the notebook's."""
        doc = html.escape(self.html, quote=True)
        return (f'<iframe srcdoc="{doc}" style="width:100%;height:760px;box-sizing:border-box;border:1px solid #ccc;'
                'border-radius:4px" sandbox="allow-scripts" title="backprop player"></iframe>')

    def display(self):
        """Show inline with IPython.display (for consoles where _repr_html_ is not picked up)."""
        from IPython.display import HTML, display
        display(HTML(self._repr_html_()))

    def __repr__(self):
        where = f" written to {self.path}" if self.path else ""
        return f"<viz.Player: {len(self)} steps{where}>"


def player(loss, path=None, names=None, *, title=None, detail="auto", shared="auto", max_steps=None,
           check="auto", check_elements=4, eps=1e-6, retain_graph=False):
    """Step through backprop from `loss` in the browser: write one self-contained HTML file (if `path`),
    return a Player (shows inline in Jupyter).

    This runs the backward walk (it is `loss.backward(retain_graph=retain_graph)`): call it on a loss whose
    backward has not run. `names` maps display names to leaves (e.g. dict(model.named_parameters())).
    detail, shared, max_steps: how the graph is drawn, as for viz.draw.
    check: which gradients the "check" button can compare with finite differences: "all" nodes, "states"
    (the loss and the recurrent states s_t, h_t, c_t), "leaves", "none", or "auto" (the richest of these that
    costs a few seconds at most). Leaves are checked unless "none". Each check uses up to `check_elements`
    entries of the tensor (the largest first).
    """
    _check_arguments(loss, path, names, title, detail, shared, max_steps, check, check_elements, eps, retain_graph)
    stepper = Stepper(loss, names=names, retain_graph=retain_graph)
    stepper.run()
    data = player_data(loss, stepper, check=check, check_elements=check_elements, eps=eps)
    svg, note, folded = _layout(loss, stepper, detail, shared, max_steps, data)
    page = page_html(data, svg, title or f"Backprop through {stepper.steps[0].label}", note, folded)
    p = Player(page, data, None, stepper)
    if path is not None:
        p.save(path)
    return p


def _check_arguments(loss, path, names, title, detail, shared, max_steps, check, check_elements, eps,
                     retain_graph):
    """Every argument checked before the walk: the walk frees the graph, so a later refusal could not be retried."""
    from tinygrad_rnn import Tensor
    if not isinstance(loss, Tensor):
        raise TypeError(f"player: expected the Tensor to backprop from (typically the loss), got {type(loss).__name__}")
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"player: path must be a str or os.PathLike such as 'backprop.html', got {type(path).__name__}")
    if names is not None and not isinstance(names, dict):
        raise TypeError(f"player: names must be a dict of display name -> leaf Tensor, got {type(names).__name__}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"player: title must be a string or None, got {type(title).__name__}")
    if check not in ("auto", "all", "states", "leaves", "none"):
        raise ValueError(f"player: check must be auto|all|states|leaves|none, got {check!r}")
    if detail not in ("auto", "ops", "cells") or shared not in ("auto", "edges", "copies"):
        raise ValueError(f"player: detail must be auto|ops|cells and shared auto|edges|copies, "
                         f"got detail={detail!r}, shared={shared!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"player: max_steps must be a positive integer or None, got {max_steps!r}")
    if isinstance(check_elements, bool) or not isinstance(check_elements, int) or check_elements < 1:
        raise ValueError(f"player: check_elements must be a positive integer, got {check_elements!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"player: eps (the finite-difference step) must be a positive finite number, got {eps!r}")
    if not isinstance(retain_graph, bool):
        raise TypeError(f"player: retain_graph must be True or False, got {type(retain_graph).__name__}")
    recorded = 0 if loss.node is None else len(tape.nodes_newest_first(loss.node))
    if recorded > MAX_NODES:
        raise ValueError(f"player: the graph has {recorded} recorded ops; a page steps "
                         f"through at most {MAX_NODES} (each is a step of the walk, with its numbers and formulas). "
                         "Unroll fewer time steps (a few show the same BPTT), or draw the long unroll with viz.draw")


# ---- the data the page shows -----------------------------------------------------------------------

def _num(x):
    """A float for JSON (NaN and infinities as strings, which JSON cannot hold as numbers)."""
    x = float(x)
    return x if math.isfinite(x) else str(x).replace("inf", "Infinity").replace("nan", "NaN")


def _short(x):
    return _num(float(f"{x:.6g}")) if math.isfinite(x) else _num(x)


def summary(a):
    """An array as the page shows it: shape, size, norm, its values (all up to FULL, else the first VALUES), and a
    heatmap of at most HEAT cells."""
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64)
    flat = a.reshape(-1)
    out = {"shape": list(a.shape), "size": int(a.size), "norm": _num(norm(a)),
           "values": [_short(v) for v in (flat if flat.size <= FULL else flat[:VALUES])]}
    if a.size:
        finite = flat[np.isfinite(flat)]
        out["absmax"] = _num(np.max(np.abs(finite))) if finite.size else 0.0
    if a.size > 1:
        m = a.reshape(1, -1) if a.ndim <= 1 else a.reshape(-1, a.shape[-1])
        rows, cols = min(m.shape[0], HEAT[0]), min(m.shape[1], HEAT[1])
        out["heat"] = {"rows": rows, "cols": cols, "of": list(m.shape),
                       "data": [_short(v) for v in m[:rows, :cols].reshape(-1)]}
    return out


def _names(step):
    """The inputs' and the output's display names, parenthesised when they are expressions."""
    wrap = lambda name: name if " " not in name else f"({name})"
    return [wrap(e.name) for e in step.inputs], wrap(step.label)


def _numpy_formula(step, pos):
    """'np.outer(s_1, g)': how the contribution to input `pos` is computed, as numpy code (g = dE/d(output))."""
    op, inputs, templates = step.op, step.inputs, op_field(step.node.op, "formula")
    names, y = _names(step)
    a, b = names[0], names[1] if len(names) > 1 else ""
    if not templates:
        return step.rule
    ndim = [e.tensor.ndim for e in inputs]
    if op == "matmul" and 1 in ndim[:2]:           # a vector is a row (left) or a column (right)
        if ndim[0] == ndim[1] == 1:
            return f"g * {b}" if pos == 0 else f"g * {a}"
        if ndim[0] == 1 and ndim[1] == 2 and pos == 1:
            return f"np.outer({a}, g)"
        if ndim[1] == 1 and ndim[0] == 2 and pos == 0:
            return f"np.outer(g, {b})"
    if op == "linear" and pos in (1, 2):           # y = x Wᵀ + b: a vector x, or rows over several leading axes
        lead = ndim[0] - 1
        if lead == 0:
            return f"np.outer(g, {a})" if pos == 1 else "g"
        if lead > 1:                               # every leading axis is rows: flatten them, then as 2-D
            return ("g.reshape(-1, g.shape[-1]).sum(axis=0)" if pos == 2 else
                    f"g.reshape(-1, g.shape[-1]).T @ {a}.reshape(-1, {a}.shape[-1])")
    if op in ("sum", "mean"):
        return _reduction_formula(step)
    if op == "getitem":
        return _scatter_formula(step) or step.rule
    params = step.node.params
    index = params.get("index")
    text = templates[min(pos, len(templates) - 1)].format(
        a=a, b=b, y=y, shape=tuple(inputs[pos].tensor.shape), axis=params.get("axis", -1),
        index=index_text(index) if index is not None else "", pos=pos, part=pos + 1)
    if op_field(step.node.op, "broadcasts") and tuple(inputs[pos].tensor.shape) != tuple(step.shape):
        text += f", summed over the broadcast axes back to shape {tuple(inputs[pos].tensor.shape)}"
    return text


def _scatter_formula(step):
    """'out = np.zeros((1, 12)); out[..., 3:6] += g; out': x[index]'s gradient put back into zeros, as numpy code
    whose last line is the contribution. An index array may name a position twice: np.add.at adds up the repeats
    (out[idx] += g would keep one). None when the index arrays are too long to write out."""
    index, shape = step.node.params.get("index"), tuple(step.inputs[0].tensor.shape)
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [isinstance(p, (list, np.ndarray)) for p in parts]
    if sum(np.size(p) for p, is_array in zip(parts, arrays) if is_array) > MAX_INDEX_SHOWN:
        return None
    code = ", ".join(repr(np.asarray(p).tolist()) if is_array else index_text(p) for p, is_array in zip(parts, arrays))
    if any(arrays):
        return f"out = np.zeros({shape}); np.add.at(out, np.s_[{code}], g); out"
    return f"out = np.zeros({shape}); out[{code or '()'}] += g; out"


def _reduction_formula(step):
    """'np.broadcast_to(g, (1,))': a sum's gradient as numpy code (a mean's divided by n), the summed axes put
    back first when the reduction dropped them."""
    params, shape = step.node.params, tuple(step.inputs[0].tensor.shape)
    axis, kept = params.get("axis"), params.get("keepdims", False)
    g = "g" if axis is None or kept else f"np.expand_dims(g, {axis!r})"
    if step.op == "mean":
        g += f" / {max(1, int(np.prod(shape)) // max(1, int(np.prod(step.shape))))}"
    return f"np.broadcast_to({g}, {shape})"


def _latex_formula(step, pos, loss):
    """The contribution to input `pos` as LaTeX (the op's contribution_latex with the names filled in), or ''."""
    templates = op_field(step.node.op, "contribution_latex")
    if pos >= len(templates):
        return ""
    names = [operand(e.name) for e in step.inputs]
    fill = {"{g}": grad_latex(loss, step.label), "{a}": names[0], "{b}": names[1] if len(names) > 1 else "",
            "{y}": operand(step.label)}
    tex = re.sub(r"\{[gaby]\}", lambda m: fill[m[0]], templates[pos])
    if op_field(step.node.op, "broadcasts") and tuple(step.inputs[pos].tensor.shape) != tuple(step.shape):
        tex = rf"\sum_{{\text{{broadcast axes}}}} \Big({tex}\Big)"
    return tex


def _contribution(step, e, loss, shared):
    """What the panel shows for the edge into input e: numpy code, and the math (LaTeX and MathML) with the
    gradient it adds to on the left ('+=' when that tensor is used more than once)."""
    text = _numpy_formula(step, e.position)
    tex = _latex_formula(step, e.position, loss)
    if tex:
        tex = grad_latex(loss, e.name) + (r" \mathrel{+=} " if shared else " = ") + tex
    return {"formula": text, "mathml": to_mathml(tex)}


def _number_latex(x):
    """A number for a formula: 0.0123, -4.5 \\times 10^{-5}."""
    if not math.isfinite(x):
        return r"\text{" + str(x) + "}"
    text = f"{x:.4g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = rf"{mantissa} \times 10^{{{int(exp)}}}"
    return text


class RunningSums:
    """The running sum of a shared tensor's gradient as math with its numbers, one element of it:
    ∂E_3/∂W_s[0,1] = 0.0123 (t=3) + (-0.0045) (t=2) = 0.0078 -- formula (2) growing term by term.
    The element shown is the one largest in the final sum, the same at every step."""

    SHOWN = 4          # terms written out; more are elided in the middle

    def __init__(self, steps, loss):
        self.loss = loss
        final = {}
        for step in steps:
            for a in step.accumulations:
                final[id(a.tensor)] = a.total
        self.index = {key: np.unravel_index(int(np.argmax(np.abs(np.asarray(t, dtype=np.float64)))), np.shape(t))
                      if np.size(t) else None for key, t in final.items()}
        self.terms = {}                       # id(tensor) -> [(when, element value)] so far

    def mathml(self, a):
        """MathML for accumulation `a` (call once per accumulation, in walk order)."""
        key, index = id(a.tensor), self.index.get(id(a.tensor))
        if index is None:
            return None
        terms = self.terms.setdefault(key, [])
        terms.append((a.when, float(np.asarray(a.contribution, dtype=np.float64)[index])))
        shown = terms if len(terms) <= self.SHOWN else terms[:2] + [None] + terms[-1:]
        parts = []
        for term in shown:
            if term is None:
                parts.append(r"\cdots")
                continue
            when, value = term
            number = _number_latex(value)
            parts.append(rf"\underset{{{name_latex(when)}}}{{{'(' + number + ')' if value < 0 else number}}}")
        lhs = grad_latex(self.loss, a.name)
        if index:
            lhs = rf"{lhs}[{','.join(str(int(i)) for i in index)}]"
        total = float(np.asarray(a.total, dtype=np.float64)[index])
        tex = lhs + " = " + " + ".join(parts) + (" = " + _number_latex(total) if len(terms) > 1 else "")
        return to_mathml(tex)


def _downstream(steps):
    """step index -> the steps its output feeds, directly (the forward graph, by step)."""
    producer = {id(step.output): step.index for step in steps}
    feeds = {step.index: [] for step in steps}
    for step in steps:
        for e in step.inputs:
            if id(e.tensor) in producer:
                feeds[producer[id(e.tensor)]].append(step.index)
    return feeds


def path_steps(feeds, start):
    """The steps between the loss and step `start`: those its output feeds, again and again (the page computes the
    same from each step's `feeds`)."""
    path, todo = {start}, [start]
    while todo:                                       # no recursion: an explicit stack
        for j in feeds[todo.pop()]:
            if j not in path:
                path.add(j)
                todo.append(j)
    return path


CHAIN_SHOWN = 6     # factors of a chain written out; a longer one keeps its first 3 and last 2 around a ⋯


def _chain(labels):
    """(LaTeX, text) of the chain ∂a/∂b · ∂b/∂c ···, the middle of a long one elided."""
    pairs = list(zip(labels, labels[1:]))
    if len(pairs) > CHAIN_SHOWN:
        pairs = pairs[:3] + [None] + pairs[-2:]
    tex = "".join(r"\cdots " if p is None else rf"\frac{{\partial {operand(p[0])}}}{{\partial {operand(p[1])}}}"
                  for p in pairs)
    return tex, " · ".join("⋯" if p is None else f"∂{p[0]}/∂{p[1]}" for p in pairs)


def term_paths(steps, feeds):
    """Every term a leaf receives -- one per use, formula (2)'s sum over t -- with what its path shows: the path is
    the steps between the loss and the step that sent the term (path_steps; the gradient flowed back along them),
    its named tensors are the chain's factors (∂E_3/∂y_3 · ∂y_3/∂s_3 · ∂s_3/∂s_2 · ∂s_2/∂W_s for W_s's term from
    t=2), and where the path branches (a cell's gates) the term is a sum over its paths and no chain is written."""
    terms, ids = [], {}
    for step in steps:
        for a in step.accumulations:
            if a.kind != "leaf":
                continue
            path = path_steps(feeds, step.index)
            branches = any(sum(j in path for j in feeds[i]) > 1 for i in path)
            # the named tensors, then the last one's immediate derivative by the leaf (∂s_2/∂W_s: s_1 held fixed)
            labels = [] if branches else [steps[i].label for i in sorted(path) if steps[i].name or i == 0] + [a.name]
            tex, text = _chain(labels)
            ids[(step.index, a.name)] = len(terms)
            terms.append({"leaf": a.name, "when": a.when, "step": step.index, "depth": len(path),
                          "branches": branches, "value": summary(a.contribution),
                          "chain_mathml": to_mathml(tex) if tex else None, "chain": text})
    return terms, ids


def _states(stepper):
    """The recurrent states: named results X_t computed at step t (a 't=k' scope) and used at step t+1.
    Returns {id(tensor): (family key, label, t)}; families are (scope above t=k, X)."""
    consumers = {}
    for step in stepper.steps:
        for e in step.inputs:
            consumers.setdefault(id(e.tensor), set()).add(step_of(step.node))
    candidates, found = [], {}
    for step in stepper.steps:
        m = STATE.match(step.name or "")
        at = time_step(step.node.scope)
        if m and at is not None and int(m[2]) == at[0]:
            family = ("/".join(step.node.scope[:at[1]]), m[1])
            candidates.append((step, family, at[0]))
            if at[0] + 1 in consumers.get(id(step.output), ()):
                found[id(step.output)] = (family, step.name, at[0])
    families = {key for key, _, _ in found.values()}
    # a family whose last state feeds no step t+1 still has it (the read-out uses h_T): add those
    for step, family, t in candidates:
        if id(step.output) not in found and family in families:
            found[id(step.output)] = (family, step.name, t)
    return found


def _check_plan(stepper, states, check, k):
    """Which gradients get finite differences: 'all' nodes, 'states' (the loss and the recurrent states),
    'leaves' only, or 'none'. Leaves are checked in every plan but 'none'. 'auto' takes the richest plan whose
    cost -- 2k replays of the whole tape per tensor -- stays within CHECK_BUDGET node visits (a few seconds)."""
    if check != "auto":
        return check
    per_tensor = 2 * k * stepper.total
    for plan, count in (("all", stepper.total), ("states", len(states) + 1)):
        if (count + len(stepper.leaves)) * per_tensor <= CHECK_BUDGET:
            return plan
    return "leaves"


def _fd(root, tensor, grad, k, eps):
    """Finite differences at up to k entries of `tensor` (the largest |grad| first, then the first ones)."""
    grad = np.asarray(grad, dtype=np.float64)
    flat = np.abs(grad.reshape(-1))
    order = [int(np.argmax(flat))] if flat.size else []
    order += [i for i in range(min(flat.size, k + 1)) if i not in order]
    rows = []
    for i in order[:k]:
        index = np.unravel_index(i, grad.shape) if grad.shape else ()
        fd = finite_difference(root, tensor, eps=eps, index=index)
        bp = float(grad.reshape(-1)[i])
        err = abs(fd - bp) / max(abs(fd), abs(bp), 1e-12)
        rows.append({"index": [int(j) for j in index], "bp": _num(bp), "fd": _num(fd), "err": _num(err)})
    worst = max((r["err"] for r in rows if isinstance(r["err"], float)), default=0.0)
    return {"rows": rows, "worst": worst, "eps": eps, "ok": bool(rows) and worst < 1e-4}


def player_data(root, stepper, check="auto", check_elements=4, eps=1e-6):
    """The JSON the page embeds, from a stepper that has run to the end (see the module docstring)."""
    steps = stepper.steps
    states = _states(stepper)
    plan = _check_plan(stepper, states, check, check_elements) if root.data.size == 1 else "none"
    leaf_uses = {}
    for step in steps:
        for a in step.accumulations:
            if a.kind == "leaf":
                leaf_uses[a.name] = leaf_uses.get(a.name, 0) + 1

    loss = steps[0].label
    sums = RunningSums(steps, loss)
    feeds = _downstream(steps)
    terms, term_ids = term_paths(steps, feeds)
    out_steps, partial, strip_events = [], {}, {}
    for step in steps:
        inputs = []
        shared = {id(a.tensor) for a in step.accumulations if a.uses > 1}
        for e in step.inputs:
            item = {"pos": e.position, "name": e.name, "kind": e.kind, "shape": list(e.tensor.shape),
                    "value": summary(e.tensor.data), "grad": summary(e.grad), "formula": ""}
            if e.kind != "const":
                item.update(_contribution(step, e, loss, id(e.tensor) in shared), needs=quiz.needs(step, e.position))
            inputs.append(item)
            if e.kind == "node" and e.grad is not None and id(e.tensor) in states:
                key = id(e.tensor)
                partial[key] = e.grad if key not in partial else partial[key] + e.grad
                strip_events.setdefault(key, []).append([step.index, _num(norm(partial[key])), 0])
        if id(step.output) in states:
            strip_events.setdefault(id(step.output), []).append([step.index, _num(norm(step.grad)), 1])
        fd = None
        if plan == "all" or plan == "states" and (step.index == 0 or id(step.output) in states):
            fd = _fd(root, step.output, step.grad, check_elements, eps)
        out_steps.append({
            "i": step.index, "feeds": feeds[step.index], "op": step.op, "label": step.label, "name": step.name or "", "shape": list(step.shape),
            "scope": step.scope, "time": step.time or "", "rule": step.rule, "latex": step.latex,
            "node": step.node.index, "grad": summary(step.grad), "out": summary(step.output.data),
            "parts": [{"from": p.from_label, "step": p.from_step, "norm": _num(norm(p.grad))}
                      for p in step.grad_parts],
            "inputs": inputs,
            "accs": [{"name": a.name, "kind": a.kind, "when": a.when, "use": a.use, "uses": a.uses,
                      "norm": _num(norm(a.contribution)), "total": summary(a.total), "before": summary(a.before),
                      "mathml": sums.mathml(a), "grad_mathml": to_mathml(grad_latex(loss, a.name)),
                      "term": term_ids.get((step.index, a.name))}
                     for a in step.accumulations],
            "grad_mathml": to_mathml(grad_latex(loss, step.label)),
            "fd": fd,
        })

    leaves, before = [], stepper.leaf_grads(-1)     # what .grad held before this walk: shown apart, never summed in
    for name, leaf in stepper.leaves.items():
        walked = leaf.grad if before[name] is None or leaf.grad is None else leaf.grad - before[name]
        fd = _fd(root, leaf, walked, check_elements, eps) if plan != "none" and walked is not None else None
        leaves.append({"name": name, "shape": list(leaf.shape), "uses": leaf_uses.get(name, 0),
                       "grad": summary(leaf.grad), "value": summary(leaf.data),
                       "before": summary(before[name]), "fd": fd})

    for events in strip_events.values():     # the last contribution completes dE/ds_t (its visit comes later)
        arrived = [ev for ev in events if not ev[2]]
        if arrived:
            arrived[-1][2] = 1
    rows = {}
    for key, (family, label, t) in sorted(states.items(), key=lambda kv: (kv[1][0], kv[1][2])):
        row = rows.setdefault(family, {"layer": family[0], "name": family[1], "cells": []})
        row["cells"].append({"t": t, "label": label, "events": strip_events.get(key, [])})
    rules = {s.op: to_mathml(s.latex) for s in steps}
    return {"total": stepper.total, "loss": loss, "loss_value": _num(float(np.sum(root.data))), "rules": rules,
            "loss_mathml": to_mathml(name_latex(loss)),
            "check": plan, "steps": out_steps, "leaves": leaves, "strip": list(rows.values()), "terms": terms,
            "questions": quiz.questions(steps, terms, list(stepper.leaves), loss, _numpy_formula),
            "ops": _ops_table(steps), "conventions": _conventions(steps), "vertices": {}, "edges": {}, "step_vertex": [None] * stepper.total,
            "folded": {"weights": {}}}


def _conventions(steps):
    """{"lstm"/"gru": where PyTorch's convention (ours) differs from the seed's figures} for the gates shown."""
    from .view import CONVENTIONS, conventions
    found = conventions({part for step in steps for part in step.node.scope})
    return {kind: text for kind, text in CONVENTIONS.items() if text in found}


def _ops_table(steps):
    """{op name: its table entry (ops.Op)} for the ops the steps visit: the page reads an op's fields here."""
    return {s.op: {f: op_field(s.node.op, f) for f in OP_FIELDS} for s in steps}


# ---- the graph: laid out once, restyled by the page ------------------------------------------------

def _layout(root, stepper, detail, shared, max_steps, data):
    """The graphviz SVG of the unrolled graph, with per-vertex and per-edge events filled into `data`.
    Returns (svg text or None, a note for the page when the graph cannot be drawn, the folded view's SVG or "")."""
    import graphviz

    from . import check_layout, fit, pipe
    from .dot import NO_GRAD, colour, fmt, shade, to_dot
    from .view import build

    view = build(root, detail, True, False, shared, max_steps)
    check_layout(view)                                # refuse, with advice, what dot could not lay out in time
    step_of = {s["node"]: s["i"] for s in data["steps"]}
    nodes = {n.index: n for n in _tape(root)}
    lo, hi = view.norm_range or (1.0, 1.0)

    out_refs = {}                                     # vertex id -> steps at which its out-edges carry gradient
    for e in view.edges:
        refs = sorted((step_of[i], i, pos) for i, pos in e.tape if i in step_of)
        events, total = [], None
        for k, i, pos in refs:
            grads = nodes[i].input_grads
            g = grads[pos] if grads is not None else None
            if g is not None:
                total = np.array(g, dtype=np.float64) if total is None else total + g
            size = norm(total) if total is not None else None
            if size is None:
                style = [NO_GRAD, 0.8, "", 0]
            elif size == 0:
                style = ["#c8c8c8", 0.8, fmt(0), 1]
            else:
                t = shade(size, lo, hi)
                style = [colour(t), round(0.8 + 4.2 * t, 2), fmt(size), 0]
            events.append([k] + style + [_num(size) if size is not None else None])
        data["edges"][e.id] = {"src": e.src, "dst": e.dst, "events": events}
        if refs:
            out_refs.setdefault(e.src, []).extend(k for k, _, _ in refs)

    leaf_text = {}                                    # leaf name -> [[step, "∇ running norm"]]
    for s in data["steps"]:
        for a in s["accs"]:
            if a["kind"] == "leaf":
                leaf_text.setdefault(a["name"], []).append([s["i"], "∇ " + fmt(float(a["total"]["norm"]))])
    leaf_vertex = _leaf_vertices(view, nodes, stepper)
    for vid, v in view.vertices.items():
        own = sorted(step_of[i] for i in v.tape if i in step_of)
        fed = sorted(out_refs.get(vid, ()))
        if not own and not fed:
            continue
        arrive = min(fed[:1] + own[:1])
        info = {"kind": v.kind, "arrive": arrive, "first": own[0] if own else None,
                "last": max(own[-1:] + fed[-1:]), "label": v.name or v.label,
                "fwd": min(v.tape) if v.tape else -1}             # the forward pass reaches it in creation order
        if v.kind == "param" and leaf_vertex.get(vid) in leaf_text:
            info["grad_text"] = leaf_text[leaf_vertex[vid]]
        data["vertices"][vid] = info
        for i in v.tape:
            if i in step_of:
                data["step_vertex"][step_of[i]] = vid
    for leaf in data["leaves"]:
        leaf["vertex"] = next((vid for vid, name in leaf_vertex.items() if name == leaf["name"]), None)
    for term in data["terms"]:                       # the edge from the leaf (or its copy) that carried the term
        term["edge"] = next((e.id for e in view.edges if leaf_vertex.get(e.src) == term["leaf"] and
                             any(step_of.get(i) == term["step"] for i, _ in e.tape)), None)
    data["cols"] = {c.step: c.id for c in view.clusters.values() if c.kind == "step"}
    data["elided"] = list(view.elided) if view.elided else None
    try:
        graph = to_dot(view, terms=False)            # no table of terms: the leaves panel reveals them
        spots = fit.clear_head_labels(fit.laid_out(graph))
        svg = pipe(to_dot(view, terms=False, spots=spots) if spots else graph, "svg").decode("utf-8")
    except (graphviz.ExecutableNotFound, fit.NoDot):
        return None, ("The graph cannot be drawn: graphviz's `dot` program was not found (Debian/Ubuntu: apt-get "
                      "install graphviz; macOS: brew install graphviz). Every step is still here, in the panel."), ""
    return svg[svg.index("<svg"):], "", _folded(root, view, nodes, data)


def _folded(root, view, nodes, data):
    """The folded view's SVG (no legend: the unrolled graph's is below it), and in data["folded"] each of its
    weights' uses in the unrolled view: the edges that carry the weight into an op, their ops, its copies.
    A graph without time steps has no folded view: ""."""
    from . import pipe
    from .folded import fold, to_dot
    try:
        f = fold(root)
    except ValueError:
        return ""
    weights = {}
    for vid in (v.id for v in f.vertices.values() if v.kind == "param"):
        i, pos = next(ref for e in f.edges if e.src == vid for ref in e.tape)
        leaf = nodes[i].args[pos]           # a leaf's arg is the Tensor itself: nothing to recompute
        uses = [e for e in view.edges if any(nodes[j].args[q] is leaf for j, q in e.tape)]
        copies = {e.src for e in uses if view.vertices[e.src].kind == "copy"}
        weights[vid] = {"name": f.vertices[vid].label, "edges": [e.id for e in uses],
                        "vertices": sorted({e.dst for e in uses} | copies)}
    data["folded"] = {"weights": weights}
    svg = pipe(to_dot(f, key=False), "svg").decode("utf-8")
    return svg[svg.index("<svg"):]


def _tape(root):
    from tinygrad_rnn import graph
    return graph(root)


def _leaf_vertices(view, nodes, stepper):
    """vertex id -> the stepper's name of the leaf it draws (a weight's vertex, or its dashed copies)."""
    names = {id(t): name for name, t in stepper.leaves.items()}
    found = {}
    for e in view.edges:
        if view.vertices[e.src].kind in ("param", "copy", "input"):
            for i, pos in e.tape:
                name = names.get(id(nodes[i].inputs[pos]))
                if name is not None:
                    found[e.src] = name
    return found


# ---- the page --------------------------------------------------------------------------------------

def _asset(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read()


# inside <script>, these must not appear as themselves: `</script>`, `<!--` and `]]>` could end or change the
# element, and U+2028/U+2029 end a line in older JavaScript
SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data):
    """`data` as JSON that is safe as the text of a <script> element: the one escape for the page's data."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: SCRIPT_UNSAFE[m[0]], text)


MAX_DATA_TEXT = 1000        # longer text in the page's data (a pasted 20,000-character name) is cut to start … end


def _bounded(data):
    """The page's data with every text longer than MAX_DATA_TEXT shortened as the page would show it anyway
    (the same text gives the same result, so names still match each other); MathML is left whole."""
    if isinstance(data, str):
        return data if len(data) <= MAX_DATA_TEXT or data.startswith("<math") else visible(data, MAX_DATA_TEXT)
    if isinstance(data, dict):
        return {_bounded(k): _bounded(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_bounded(v) for v in data]
    return data


def _csp_hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def page_html(data, svg, title, note="", folded=""):
    """One self-contained HTML page: style, SVG (and the folded view's, above it), data and script inline. Its
    Content-Security-Policy lets only that inline script and style run (by their hashes): no other script, no
    event attributes, no network."""
    css, js = _asset("player.css") + MATH_CSS, _asset("player.js")
    csp = (f"default-src 'none'; script-src {_csp_hash(js)}; style-src {_csp_hash(css)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    parts = {"TITLE": html.escape(visible(title, 200)), "CSS": css, "JS": js, "DATA": script_json(_bounded(data)),
             "CSP": csp, "SVG": svg if svg else f'<p class="nograph">{html.escape(note)}</p>',
             "FOLDED": folded or ""}
    return re.sub(r"\{\{(TITLE|CSS|JS|DATA|SVG|CSP|FOLDED)\}\}", lambda m: parts[m[1]], _asset("player.html"))
