"""One table per op: every op in OPS carries everything the project shows about it (rule, LaTeX, symbol, infix
form, row-wise inputs, broadcasting, the player's formula per input), and the stepper, the diagrams and the
player read those fields from the op."""
import string

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import ops

FIELDS = ("name", "forward", "vjp", "vjp_lean", "rule", "latex", "symbol", "infix", "rowwise", "broadcasts",
          "formula", "contribution_latex")
TEMPLATE_KEYS = {"a", "b", "y", "shape", "index", "axis", "pos", "part"}


@pytest.mark.parametrize("name", sorted(ops.OPS))
def test_every_op_has_every_field(name):
    op = ops.OPS[name]
    assert op.name == name
    for field in FIELDS:
        assert hasattr(op, field), f"{name} has no {field}"
    assert "formula" in vars(op), f"{name} must write its own formula templates"
    assert all(isinstance(getattr(op, f), str) and getattr(op, f) for f in ("rule", "latex", "symbol"))
    assert op.infix is None or (isinstance(op.infix, str) and op.infix.strip() == op.infix and op.infix)
    assert isinstance(op.rowwise, tuple) and all(isinstance(p, int) and p >= 0 for p in op.rowwise)
    assert isinstance(op.broadcasts, bool)
    assert isinstance(op.formula, tuple) and op.formula and all(isinstance(t, str) and t for t in op.formula)
    for template in op.formula:
        keys = {key for _, key, _, _ in string.Formatter().parse(template) if key is not None}
        assert keys <= TEMPLATE_KEYS, f"{name}: unknown placeholders {keys - TEMPLATE_KEYS} in {template!r}"
    if op.rowwise:
        assert max(op.rowwise) < len(op.formula)          # a row-wise position is an input the op has


def test_infix_ops_are_binary_and_their_python_form_computes_the_op():
    a, b = np.array([[1.5, 2.0], [0.5, 3.0]]), np.array([[2.0, 1.0], [0.5, 4.0]])
    infix = {name: op for name, op in ops.OPS.items() if op.infix}
    assert set(infix) == {"add", "sub", "mul", "div", "matmul", "pow"}
    for name, op in infix.items():
        want = op.forward(a, b)[0]
        np.testing.assert_array_equal(eval(f"a {op.infix} b"), want, err_msg=name)


def test_an_op_outside_the_table_gets_the_defaults():
    class Square:                                         # duck-typed: only name, forward and vjp
        name = "square"
    assert ops.op_field(Square, "symbol") == "square"
    assert ops.op_field(Square, "infix") is None and ops.op_field(Square, "rowwise") == ()
    assert ops.op_field(Square, "formula") == () and ops.op_field(Square, "broadcasts") is False


def test_readers_take_the_fields_from_the_op(monkeypatch):
    """Change a symbol, an infix form and a formula on the op: the diagram, the stepper and the player follow."""
    viz = pytest.importorskip("viz")
    monkeypatch.setattr(ops.Mul, "symbol", "⊛")
    monkeypatch.setattr(ops.Mul, "infix", "<*>")
    monkeypatch.setattr(ops.Mul, "formula", ("g times {b}, for {a}", "g times {a}"))

    def loss():
        x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
        w = Tensor(np.array([3.0, 4.0]), requires_grad=True, name="w")
        return (x * w).sum(), x, w
    e, _, _ = loss()
    e.backward(retain_graph=True)
    assert "⊛" in viz.draw(e, detail="ops").source
    e, _, _ = loss()
    assert [s.label for s in tg.Stepper(e)][1] == "x <*> w"
    e, _, _ = loss()
    data = viz.player(e, check="none").data
    mul = next(s for s in data["steps"] if s["op"] == "mul")
    assert [i["formula"] for i in mul["inputs"]] == ["g times w, for x", "g times x"]
    assert data["ops"]["mul"]["symbol"] == "⊛" and data["ops"]["mul"]["latex"] == ops.Mul.latex


def test_variadic_formula_serves_every_input():
    viz = pytest.importorskip("viz")
    xs = [Tensor(np.full(2, float(k)), requires_grad=True, name=f"p{k}") for k in range(3)]
    data = viz.player((tg.concat(xs) * 2.0).sum(), check="none").data
    cat = next(s for s in data["steps"] if s["op"] == "concat")
    assert [i["formula"] for i in cat["inputs"]] == [
        f"piece {k} of g (the slice that came from this input)" for k in (1, 2, 3)]
