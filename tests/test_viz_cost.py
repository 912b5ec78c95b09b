"""What drawing a long or deeply scoped graph costs, counted (not timed): the work on the hidden steps of an
elided picture, and the refusal of deeply nested scopes before any value is recomputed."""
import contextlib

import numpy as np
import pytest

import tinygrad_rnn as tg
import viz
from tinygrad_rnn.core import lazy
from viz import view


def lstm_loss(steps):
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.normal(size=(steps, 1, 2)), name="x")
    out, _ = tg.LSTM(2, 4)(x)
    loss = out.sum()
    loss.name = "loss"
    loss.backward(keep_grads=True)
    return loss


def test_hidden_slices_are_never_made_dense(monkeypatch):
    """The batched projection (T, B, 4H) is sliced once per step: summing those slices' gradients must not
    make a dense (T, B, 4H) array per step (that was T^2 work and memory). As many are made at 60 steps as
    at 240: they belong to the drawn steps and the sums."""
    made = []
    dense = lazy.Scatter.dense
    monkeypatch.setattr(lazy.Scatter, "dense", lambda self: made.append(self.shape) or dense(self))
    counts = []
    for steps in (60, 240):
        loss = lstm_loss(steps)
        made.clear()
        viz.draw(loss, max_steps=8, layout="lr").source
        counts.append(len(made))
    assert counts[0] == counts[1] < 60, counts


def test_edges_visit_only_drawn_steps():
    """The edge pass reads the drawn steps and the nodes with an edge into the elided block: of a hidden step
    only the slice of the batched projection (its gradient is part of that edge's), not the step's other ops."""
    def heads(steps):
        loss = lstm_loss(steps)
        p = view._plan(view.read(loss), loss, "ops", True, "copies", 8)
        view._op_vertices(p)
        return len(view._edge_heads(p)), len(p.tape)
    (short, tape_short), (long, tape_long) = heads(100), heads(400)
    assert tape_long - tape_short >= 10 * 300
    assert long - short == 300


def test_picture_is_the_same_with_the_tape_read_once():
    loss = lstm_loss(30)
    reading = view.read(loss)
    for detail in ("ops", "cells"):
        a = view.build(loss, detail, max_steps=6)
        b = view.build(loss, detail, max_steps=6, reading=reading)
        assert [(v.id, v.grad) for v in a.vertices.values()] == [(v.id, v.grad) for v in b.vertices.values()]
        assert [(e.id, e.grad) for e in a.edges] == [(e.id, e.grad) for e in b.edges]
        assert a.weights == b.weights


def test_deep_scopes_refused_before_values_are_recomputed(monkeypatch):
    x = tg.Tensor(np.ones(3), requires_grad=True, name="x")
    depth = view.MAX_SCOPE_DEPTH + 1
    with contextlib.ExitStack() as stack:
        for _ in range(depth):
            stack.enter_context(tg.scope("a"))
        y = (x * 2.0).sum()

    def recompute(*args):
        raise AssertionError("values recomputed before the refusal")
    monkeypatch.setattr(view, "materialize", recompute)
    with pytest.raises(view.TooDeep) as err:
        viz.draw(y, layout="lr")
    assert f"inside {depth} nested scopes" in str(err.value)
    assert f"at most {view.MAX_SCOPE_DEPTH} levels" in str(err.value) and "MAX_SCOPE_DEPTH" in str(err.value)


def test_scopes_at_the_limit_are_drawn():
    x = tg.Tensor(np.ones(3), requires_grad=True, name="x")
    with contextlib.ExitStack() as stack:
        for _ in range(view.MAX_SCOPE_DEPTH):
            stack.enter_context(tg.scope("a"))
        y = (x * 2.0).sum()
    y.backward(keep_grads=True)
    assert "a/a/a" in viz.draw(y, layout="lr").source
