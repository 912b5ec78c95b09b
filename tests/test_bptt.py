"""The seed's formulas (1)-(3): every term read off the graph equals the product of its chain of Jacobians,
computed here directly with numpy from the network's equations (row vectors, x W)."""
import numpy as np
import pytest

from tinygrad_rnn import bptt
from tinygrad_rnn.teach.seed import three_step_network


def direct_terms(named, phi):
    """Each term of formulas (1)-(3) as an explicit product of Jacobian matrices.

    Row-vector convention: J[i, j] = ∂out_i/∂in_j. ∂y_3/∂s_3 = W_y^T, ∂s_t/∂s_{t-1} = diag(Φ'(a_t)) W_s^T,
    and the immediate ∂s_k/∂W (s_{k-1}, x_k held fixed) is the 3-index array J[i, p, q] = Φ'(a_k)_i u_p δ_qi
    with u = s_{k-1} for W_s and u = x_k for W_x.
    """
    W_x, W_s, W_y = (named[n].data for n in ("W_x", "W_s", "W_y"))
    xs = [named[f"x_{t}"].data for t in (1, 2, 3)]
    d, s = named["d_3"].data, [named["s_0"].data]
    dphi = []
    for x in xs:
        a = x @ W_x + s[-1] @ W_s
        s.append(np.tanh(a) if phi == "tanh" else np.maximum(a, 0))
        dphi.append(1 - s[-1] ** 2 if phi == "tanh" else (a > 0).astype(float))
    y = s[3] @ W_y
    dE_dy = (y - d)[None, :]                                        # (1, O): E = 1/2 |y - d|^2
    dy_ds3 = W_y.T                                                  # (O, H)
    ds_ds = {t: np.diag(dphi[t - 1]) @ W_s.T for t in (2, 3)}       # ∂s_t/∂s_{t-1}, (H, H)
    H = W_s.shape[0]

    def immediate(k, u):                                            # ∂s_k/∂W as (H, rows(W) * H)
        J = np.einsum("i,p,qi->ipq", dphi[k - 1], u, np.eye(H))
        return J.reshape(H, -1)

    terms = {"W_y": {3: (dE_dy @ np.einsum("p,qi->ipq", s[3], np.eye(len(d))).reshape(len(d), -1))
                     .reshape(W_y.shape)}}
    for name, u in (("W_s", lambda k: s[k - 1]), ("W_x", lambda k: xs[k - 1])):
        terms[name] = {}
        for k in (3, 2, 1):
            chain = dE_dy @ dy_ds3
            for t in range(3, k, -1):
                chain = chain @ ds_ds[t]
            W = named[name].data
            terms[name][k] = (chain @ immediate(k, u(k))).reshape(W.shape)
    return terms


@pytest.mark.parametrize("phi", ["tanh", "relu"])
@pytest.mark.parametrize("s_0", ["random", "zeros"])
def test_terms_are_the_chains_of_jacobians(phi, s_0):
    E, named = three_step_network(phi=phi, seed=3, s_0=s_0)
    formulas = bptt.seed_formulas(E, named)
    expected = direct_terms(named, phi)
    assert [f.number for f in formulas] == [1, 2, 3] and [f.weight for f in formulas] == ["W_y", "W_s", "W_x"]
    for f in formulas:
        assert [term.t for term in f.terms] == ([3] if f.weight == "W_y" else [3, 2, 1])
        for term in f.terms:
            np.testing.assert_allclose(term.value, expected[f.weight][term.t], rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(f.grad, named[f.weight].grad)
        np.testing.assert_allclose(f.total, f.grad, rtol=1e-12, atol=1e-15)
        assert f.ok
    W_s_t1 = formulas[1].terms[-1].value
    assert (np.all(W_s_t1 == 0)) == (s_0 == "zeros")                # ∂s_1/∂W_s is built from s_0


def test_against_plain_backward():
    E, named = three_step_network(seed=5)
    formulas = bptt.seed_formulas(E, named)
    E2, named2 = three_step_network(seed=5)
    E2.backward(keep_grads=True)
    for f in formulas:
        np.testing.assert_array_equal(f.grad, named2[f.weight].grad)


def test_torch_parity(torch):
    E, named = three_step_network(phi="tanh", seed=1)
    formulas = {f.weight: f for f in bptt.seed_formulas(E, named)}
    W = {n: torch.tensor(named[n].data, requires_grad=True) for n in ("W_x", "W_s", "W_y")}
    s = torch.tensor(named["s_0"].data)
    for t in (1, 2, 3):
        s = torch.tanh(torch.tensor(named[f"x_{t}"].data) @ W["W_x"] + s @ W["W_s"])
    y = s @ W["W_y"]
    (0.5 * ((y - torch.tensor(named["d_3"].data)) ** 2).sum()).backward()
    for n, w in W.items():
        np.testing.assert_allclose(formulas[n].total, w.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_chains_and_latex():
    assert bptt.chain("W_y", 3, 3) == "∂E_3/∂y_3 · ∂y_3/∂W_y"
    assert bptt.chain("W_s", 3, 3) == "∂E_3/∂y_3 · ∂y_3/∂s_3 · ∂s_3/∂W_s"
    assert bptt.chain("W_s", 1, 3) == \
        "∂E_3/∂y_3 · ∂y_3/∂s_3 · ∂s_3/∂s_2 · ∂s_2/∂s_1 · ∂s_1/∂W_s"
    assert bptt.chain("W_x", 2, 3, latex=True) == (        # the same names as the text: no bars, no second notation
        r"\frac{\partial E_{3}}{\partial y_{3}}\frac{\partial y_{3}}{\partial s_{3}}"
        r"\frac{\partial s_{3}}{\partial s_{2}}\frac{\partial s_{2}}{\partial W_{x}}")
    assert r"E_{12}" in bptt.chain("W_s", 1, 12, latex=True)    # two-digit steps stay one subscript


def test_formula_reprs_are_math_without_raw_names():
    """Jupyter's markdown of a formula: every name inside $...$ (no raw W_s in the prose); LaTeX MathML can read,
    for the seed and for a library LSTM whose state is a pair (h_t, c_t)."""
    import re
    from tinygrad_rnn.teach.examples import example_network
    from viz.mathml import to_mathml
    formulas = bptt.seed_formulas() + bptt.network_formulas(*example_network("lstm", layers=2)[:2])
    for f in formulas:
        prose = re.sub(r"\$\$.*?\$\$|\$.*?\$", "", f._repr_markdown_(), flags=re.DOTALL)
        assert "_" not in prose, prose
        assert to_mathml(f.latex, display=True) is not None, f.latex
        assert to_mathml(f.terms[0].latex) is not None, f.terms[0].latex
    lstm_term = formulas[-1].terms[-1].latex
    assert r"\partial (h^{(1)}_{1}, c^{(1)}_{1})}" in lstm_term, lstm_term


def test_report_text():
    text = bptt.report()
    assert "(2) ∂E_3/∂W_s: W_s is used 3 times (t=1, t=2, t=3)" in text
    assert "t=2  ∂E_3/∂y_3 · ∂y_3/∂s_3 · ∂s_3/∂s_2 · ∂s_2/∂W_s" in text
    assert text.count("terms sum to") == 3 and "DIFFERENT" not in text


def test_a_layers_batched_input_weight_is_one_contribution_and_matrices_keep_to_the_screen():
    text = bptt.report(model="lstm", steps=2)
    assert ("weight_ih_l0 is used once for all steps (t=1, t=2), in one batched product: the walk adds one "
            "contribution, whose rows are 2 terms, one per step") in text
    assert "step 1's rows of the edge into weight_ih_l0" in text
    assert "weight_hh_l0 is used twice (t=1, t=2), so the walk adds 2 contributions" in text
    matrices = [line for line in text.splitlines() if "[" in line]
    assert max(map(len, matrices)) <= 130 and any(line.lstrip().startswith("[") for line in matrices)   # a row a line
