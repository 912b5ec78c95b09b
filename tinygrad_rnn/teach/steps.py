"""Time steps read off the tape: which step a node belongs to, and a weight's gradient as one term per step.

A node's step is the `t=<k>` of its scope (`core.mode.time_step`, the one place that parses it). A weight
used inside the steps (W_hh, the seed's W_s) has one edge per step, and the backward walk sends one term of
formula (2) along each. The library layers use W_ih and b_ih once, before the steps: linear(x (T, B, I),
W_ih, b_ih) projects every input in one op (that is what makes them fast) and step t slices row [t-1] of the
result. The gradient on that one edge, gᵀx summed over all rows, is the sum of one term per row,
g[t-1]ᵀ x[t-1] (b_ih: g[t-1] summed over the batch) -- exactly the term a per-step x_t W_ihᵀ would have
received at step t. `StepTerms` finds such projections in a graph and splits their edges into those terms,
so formula (3) reads off `tg.LSTM` as it reads off the seed's network; the terms sum to `.grad`.
"""
import numpy as np

from ..core.mode import time_step
from ..core.tape import Node


def step_of(node):
    """The k of the node's `t=<k>` scope, or None."""
    found = time_step(node.scope)
    return None if found is None else found[0]


def time_of(node):
    """'t=<k>' for a node in step k ('lstm/layer0/t=3/forget_gate' -> 't=3'), or None."""
    k = step_of(node)
    return None if k is None else f"t={k}"


class StepTerms:
    """The per-step terms of the edges into the weights of one graph.

    `nodes`: the graph's nodes (any order). A batched projection is a `linear` node outside the steps whose
    rows 0..T-1 are each sliced (x[r], an integer index) by a node of one step; its weight and bias edges
    split into one term per row, labelled with that row's step."""

    def __init__(self, nodes):
        self.rows = {}                                   # projection node -> {row: step}
        for n in nodes:
            index = n.params.get("index") if n.op.name == "getitem" else None
            if type(index) is not int or type(n.args[0]) is not Node:
                continue
            src, k = n.args[0], step_of(n)
            if k is not None and src.op.name == "linear" and step_of(src) is None:
                self.rows.setdefault(src, {})[index] = k

    def _rows(self, node, pos):
        """{row: step} when the edge `pos` of `node` is a batched projection's weight or bias, else None."""
        rows = self.rows.get(node) if pos in (1, 2) else None
        if rows is None:
            return None
        x = node.inputs[0]
        if x.ndim < 2 or sorted(rows) != list(range(x.shape[0])) or len(set(rows.values())) != len(rows):
            return None
        return rows

    def steps(self, node, pos):
        """The steps the edge `pos` of `node` splits into (newest first), or None when it is not split."""
        rows = self._rows(node, pos)
        return None if rows is None else sorted(rows.values(), reverse=True)

    def count(self, node, pos):
        """How many terms the edge `pos` of `node` carries: one per step for a projection, else 1."""
        rows = self._rows(node, pos)
        return 1 if rows is None else len(rows)

    def split(self, node, pos, contribution, grad):
        """[(step or None, term)] for the edge `pos` of `node`, which carried `contribution`; `grad` is the
        gradient that arrived at the node's output. Newest step first, as the walk meets them."""
        rows = self._rows(node, pos) if contribution is not None and grad is not None else None
        if rows is None:
            return [(step_of(node), contribution)]
        g = np.asarray(grad)
        x = node.inputs[0].data
        out = []
        for r, k in sorted(rows.items(), key=lambda rk: -rk[1]):
            g_r = g[r].reshape(-1, g.shape[-1])
            term = g_r.T @ x[r].reshape(-1, x.shape[-1]) if pos == 1 else g_r.sum(axis=0)
            out.append((k, term.astype(np.result_type(contribution), copy=False)))
        return out


def edge_terms(steps, leaves):
    """{leaf name: [(step, term)]} from a finished Stepper's record: every term of every weight, one per use
    and one per row of a batched projection. `leaves` names which leaves (default: all the stepper's)."""
    found = {name: [] for name in leaves}
    for step in steps:
        for acc in step.accumulations:
            if acc.kind == "leaf" and acc.name in found:
                found[acc.name].append((acc.step, acc.contribution))
    return found
