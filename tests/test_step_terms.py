"""Formula (3) on the library layers: W_ih (and b_ih) of tg.RNN/LSTM/GRU, used once by the batched input
projection, are shown as one term per time step -- the rows of the batched product that belong to step t.
Checked against a hand-written numpy BPTT (benchmarks/numpy_bptt.py), whose per-step pre-activation
gradients dG_x[t] give the terms dG_x[t]ᵀ x_t, and summed against .grad."""
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.teach.stepper import Stepper, edge_contributions
from viz.view import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import numpy_bptt as nb  # noqa: E402

T, B, I, H = 4, 2, 3, 2
LAYERS = {"rnn": tg.RNN, "lstm": tg.LSTM, "gru": tg.GRU}


def numpy_terms(kind, layer, x, R, monkeypatch):
    """Per layer: (per-step W_ih terms, per-step b_ih terms, dW_ih) from the numpy BPTT of the same layer."""
    captured = []
    finish = nb._finish

    def spy(gx, gh, xs, h_prev, w_ih):              # gx: dL/d(x W_ih^T + b_ih), one row per (step, batch)
        captured.append((np.array(gx).reshape(xs.shape[0], xs.shape[1], -1), xs))
        return finish(gx, gh, xs, h_prev, w_ih)
    monkeypatch.setattr(nb, "_finish", spy)
    caches, inp = [], x
    for k in range(layer.num_layers):
        w = [getattr(layer, f"{n}_l{k}").data for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        state = (np.zeros((B, H)),) * (2 if kind == "lstm" else 1)
        inp, _, cache = getattr(nb, f"{kind}_forward")(inp, *state, *w)
        inp = inp.copy()
        caches.append(cache)
    d_out, grads = R, []
    for cache in reversed(caches):
        g = getattr(nb, f"{kind}_backward")(d_out, cache)
        d_out = g["x"]
        grads.append(g)
    out = []
    for (dgx, xs), g, cache in zip(captured, grads, reversed(caches)):   # from the top layer down, as grads
        if kind == "lstm":                        # the baseline keeps the gates as i, f, o, g: back to i, f, g, o
            dgx = dgx[..., np.argsort(cache[-1])]
        out.append(([dgx[t].T @ xs[t] for t in range(T)], [dgx[t].sum(0) for t in range(T)], g["w_ih"]))
    return out[::-1]


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_per_step_input_weight_terms_equal_numpy_bptt(kind, layers, monkeypatch):
    tg.manual_seed(3)
    layer = LAYERS[kind](I, H, num_layers=layers, dtype=np.float64)
    rng = np.random.default_rng(3)
    x, R = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, H))
    out, _ = layer(x)
    loss = (out * R).sum()
    names = dict(layer.named_parameters())
    stepper = Stepper(loss, names=names)
    steps = stepper.run()
    want = numpy_terms(kind, layer, x, R, monkeypatch)
    for k, (w_terms, b_terms, dw) in enumerate(want):
        for name, expected in ((f"weight_ih_l{k}", w_terms), (f"bias_ih_l{k}", b_terms)):
            accs = [a for s in steps for a in s.accumulations if a.name == name]
            assert [a.step for a in accs] == list(range(T, 0, -1))           # newest first, as the walk goes
            assert all(a.uses == T for a in accs) and [a.use for a in accs] == list(range(1, T + 1))
            for a in accs:
                np.testing.assert_allclose(a.contribution, expected[a.step - 1], rtol=1e-10, atol=1e-12)
            leaf = names[name]
            np.testing.assert_allclose(sum(a.contribution for a in accs), leaf.grad, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(accs[-1].total, leaf.grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(names[f"weight_ih_l{k}"].grad, dw, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_the_table_and_edge_contributions_split_the_projection(kind):
    tg.manual_seed(1)
    layer = LAYERS[kind](I, H, num_layers=2, dtype=np.float64)
    out, _ = layer(np.random.default_rng(1).standard_normal((T, B, I)))
    loss = (out[-1] ** 2).sum()
    w = layer.weight_ih_l1
    terms = edge_contributions(loss, w)
    assert [when for when, _ in terms] == [f"t={t}" for t in range(T, 0, -1)]
    loss.backward(keep_grads=True)
    np.testing.assert_allclose(sum(c for _, c in terms), w.grad, rtol=1e-10)
    view = build(loss)
    rows = {row.name: row for row in view.weights}
    assert {f"{n}_l{k}" for n in ("weight_ih", "bias_ih", "weight_hh", "bias_hh") for k in (0, 1)} == set(rows)
    row = rows["weight_ih_l1"]
    assert list(row.terms) == [f"t={t}" for t in range(1, T + 1)]
    for when, c in terms:
        assert row.terms[when] == pytest.approx(np.linalg.norm(c), rel=1e-10)
    assert row.total == pytest.approx(np.linalg.norm(w.grad), rel=1e-10)
