"""Rendered math: the MathML the pages embed (made from our LaTeX, checked, escaped), the numpy form of each
contribution (it must compute the contribution, 1-D row vectors included), and the Jupyter reprs of formulas."""
import ast
import re

import numpy as np
import pytest

pytest.importorskip("graphviz")
pytest.importorskip("latex2mathml")

from tinygrad_rnn import Tensor, bptt
from tinygrad_rnn.core.ops import OPS
from viz.cli.teach import build
from viz.mathml import grad_latex, name_latex, to_mathml
from viz.player import player


def test_every_op_rule_and_contribution_renders():
    fill = {"{g}": grad_latex("E_3", "s_1 @ W_s"), "{a}": "s_{1}", "{b}": "W_{s}", "{y}": "s_{2}"}
    for name, op in OPS.items():
        assert to_mathml(op.latex), name
        assert r"\bar" not in op.latex and "G @" not in op.rule, name        # one notation: ∂E/∂y, dE/dy
        for template in op.contribution_latex:
            tex = re.sub(r"\{[gaby]\}", lambda m: fill[m[0]], template)
            assert to_mathml(tex), (name, tex)


def test_mathml_is_checked_and_reserialised():
    assert to_mathml(r"\text{a<b}") is None                      # latex2mathml copies the text raw: refused
    linked = to_mathml(r"\href{javascript:alert(1)}{x}")
    assert linked and "href" not in linked and "javascript" not in linked
    assert "<mo>+=</mo>" in to_mathml(r"a \mathrel{+=} b")      # one operator, not two spaced ones
    for hostile in ["<script>alert(1)</script>", "x\" onmouseover=\"alert(1)", "a{b}\\c$&#%~^_", "</math><img src=x>"]:
        mml = to_mathml(grad_latex("E", hostile))
        assert mml is not None and "<script" not in mml and "<img" not in mml and "onmouseover=" not in mml
        assert mml.count("<math") == 1 and mml.endswith("</math>")
    assert name_latex("s_1 @ W_s") == r"s_{1} \, W_{s}"
    assert name_latex("W_s.T") == r"W_{s}^{\top}"
    assert name_latex("(y_3 - d_3) ** 2") == "(y_{3} - d_{3}) ^ 2"


def _evaluate(formula, step):
    """The numpy formula with the step's operands and upstream gradient filled in, or None for prose. A formula of
    several statements (`out = np.zeros(..); out[3:6] += g; out`) is run, its last expression is the result."""
    wrap = lambda name: name if " " not in name else f"({name})"
    values = {wrap(e.name): e.tensor.data for e in step.inputs}
    values[wrap(step.label)] = step.output.data
    names = {}
    for k, name in enumerate(sorted(values, key=len, reverse=True)):      # longest first: s_1 before s_1 @ W
        formula = re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", f"_v{k}", formula)
        names[f"_v{k}"] = np.asarray(values[name], dtype=np.float64)
    try:
        tree = ast.parse(formula)
    except SyntaxError:
        return None
    if not isinstance(tree.body[-1], ast.Expr):
        return None
    scope = {"np": np, "g": np.asarray(step.grad, dtype=np.float64), **names}
    exec(compile(ast.Module(tree.body[:-1], type_ignores=[]), "<formula>", "exec"), scope)
    return eval(compile(ast.Expression(tree.body[-1].value), "<formula>", "eval"), scope)


@pytest.mark.parametrize("model", ["seed", "rnn", "lstm", "gru"])
def test_numpy_formulas_compute_each_contribution(model):
    E, names = build(model, 3)
    p = player(E, None, names=names, check="none")
    computed, prose, ops = 0, set(), set()
    for step, shown in zip(p.stepper.steps, p.data["steps"]):
        for e, item in zip(step.inputs, shown["inputs"]):
            if e.kind == "const" or ", summed over" in item["formula"]:
                continue
            got = _evaluate(item["formula"], step)
            if got is None:
                prose.add(step.op)
                continue
            np.testing.assert_allclose(got, e.grad, rtol=1e-5, atol=1e-7, err_msg=f"{step.label}: {item['formula']}")
            computed += 1
            ops.add(step.op + ("/batched" if step.op == "linear" and step.inputs[0].tensor.ndim > 2 else ""))
    assert computed >= 10
    assert not prose & {"sum", "mean", "matmul", "mul", "add", "tanh", "sigmoid", "getitem", "linear"}, prose
    if model != "seed":                          # x[t] and the gates sliced out of one product; the batched input
        assert {"getitem", "linear/batched"} <= ops, ops      # projection x W_ih^T over every (t, batch) row
    if model == "seed":                          # 1-D row vectors: the weight's share is an outer product
        outer = [i["formula"] for s in p.data["steps"] for i in s["inputs"] if i["name"] == "W_s"]
        assert outer == ["np.outer(s_2, g)", "np.outer(s_1, g)", "np.outer(s_0, g)"]


@pytest.mark.parametrize("index, arrays", [([0, 2, 2], True), ((slice(None), [3, 1, 3]), True),
                                           (np.array([True, False, True]), True), ((), False), ((1, slice(2, None)), False)])
def test_numpy_formula_of_an_index_array_adds_up_repeats(index, arrays):
    """x[idx] with an index array that names a row twice: np.add.at adds both (out[idx] += g would keep one)."""
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, name="x")
    y = x[index]
    E = (y * Tensor(np.linspace(1, 2, y.data.size).reshape(y.shape))).sum()
    p = player(E, None, check="none")
    step, shown = next((st, sh) for st, sh in zip(p.stepper.steps, p.data["steps"]) if st.op == "getitem")
    formula = shown["inputs"][0]["formula"]
    assert formula.startswith("out = np.zeros((3, 4)); ") and formula.endswith("; out")
    assert ("np.add.at" in formula) == arrays
    np.testing.assert_allclose(_evaluate(formula, step), step.inputs[0].grad, rtol=1e-12)


def test_the_page_styles_its_math_with_a_math_font(tmp_path):
    """The page carries viz.mathml.CSS inside its one style element (the CSP's hash covers it): a math font
    (stretchy brackets) and the aligned columns."""
    from viz.mathml import CSS
    E, names = build("seed", 3)
    page = open(player(E, tmp_path / "p.html", names=names, check="none").path, encoding="utf-8").read()
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)[1]
    assert CSS in style and "DejaVu Math TeX Gyre" in style and page.count("<style>") == 1


def test_player_data_carries_math_for_rules_gradients_contributions_and_sums():
    E, names = build("seed", 3)
    p = player(E, None, names=names, check="none")
    data = p.data
    assert set(data["rules"]) == {s["op"] for s in data["steps"]} and all(data["rules"].values())
    for s in data["steps"]:
        assert s["grad_mathml"] and "<mfrac>" in s["grad_mathml"]
        for e in s["inputs"]:
            if e["kind"] != "const":
                assert e["mathml"].startswith("<math><mrow><mfrac><mrow><mo>∂</mo><msub><mi>E</mi>"), e
    # formula (2) as it grows: W_s's running sum at its 3rd use shows three numbers that add up to W_s.grad[i]
    w_s = names["W_s"].grad
    i, j = np.unravel_index(np.argmax(np.abs(w_s)), w_s.shape)
    last = [a for s in data["steps"] for a in s["accs"] if a["name"] == "W_s"][-1]
    numbers = [float(x) for x in re.findall(r"<mn>([\d.]+)</mn>", last["mathml"])]
    terms = [e.grad[i, j] for s in p.stepper.steps for e in s.inputs if e.name == "W_s"]
    assert numbers[1:3] == [i, j]                                     # E_3, the element, each term, the sum
    for value in [abs(t) for t in terms] + [w_s[i, j]]:
        assert any(abs(n - value) <= 1e-3 * abs(value) for n in numbers), value
    assert numbers[-1] == pytest.approx(w_s[i, j], rel=1e-3)
    assert "<mo>+=</mo>" in next(e["mathml"] for s in data["steps"] for e in s["inputs"] if e["name"] == "W_s")
    assert "text" not in last and last["grad_mathml"] == to_mathml(grad_latex("E_3", "W_s"))


def test_running_sums_of_a_shared_state_name_the_loss():
    """A state used twice (the LSTM's gates) sums into ∂E_2/∂gates_2, written with the loss's own name."""
    E, names = build("lstm", 2)
    accs = [a for s in player(E, None, names=names, check="none").data["steps"] for a in s["accs"]
            if a["kind"] == "node"]
    assert accs and all(a["grad_mathml"] == to_mathml(grad_latex("E_2", a["name"])) for a in accs)
    assert "<msub><mi>E</mi><mn>2</mn></msub>" in accs[0]["grad_mathml"]


def test_formulas_render_in_jupyter():
    formulas = bptt.seed_formulas()
    two = formulas[1]
    latex = two._repr_latex_()
    assert latex.startswith("$$") and r"\frac{\partial E_{3}}{\partial W_{s}}" in latex
    assert latex.count("bmatrix}") == 2 * (len(two.terms) + 1)       # each term's value and the sum
    assert "$W_{s}$" in two._repr_markdown_() and "equal" in two._repr_markdown_()
    term = two.terms[0]
    assert term.latex in term._repr_latex_() and bptt.matrix_latex(term.value) in term._repr_latex_()
    assert bptt.matrix_latex(np.array([[1.5, -2e-05]])) == r"\begin{bmatrix}1.5 & -2\mathrm{e}-05\end{bmatrix}"
    assert all(to_mathml(t.latex) for t in two.terms)                  # each chain also renders as MathML
