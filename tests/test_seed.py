"""The seed's networks against a direct numpy evaluation of its equations, in its notation."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import seed

PHI = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0)}


def weights(net):
    return {n: p.data for n, p in net.named_parameters()}


@pytest.mark.parametrize("phi", ["tanh", "relu"])
@pytest.mark.parametrize("batch", [None, 3])
def test_two_layer_network_matches_its_equations(phi, batch):
    rng = np.random.default_rng(0)
    net = seed.TwoLayerRNN(2, 4, 3, phi=phi, second_hidden_size=5, dtype=np.float64)
    assert [n for n, _ in net.named_parameters()] == ["W_x", "W_s", "W_y", "W_s'", "W"]
    assert net.W_y.shape == (4, 5) and getattr(net, "W_s'").shape == (5, 5) and net.W.shape == (5, 3)
    xs = rng.standard_normal((4, 2) if batch is None else (4, batch, 2))
    out = net(xs)
    w, f = weights(net), PHI[phi]
    s = np.zeros(xs.shape[1:-1] + (4,))
    sp = np.zeros(xs.shape[1:-1] + (5,))
    for t in range(1, 5):
        s = f(xs[t - 1] @ w["W_x"] + s @ w["W_s"])                # s_t = Φ(x_t W_x + s_{t-1} W_s)
        sp = f(s @ w["W_y"] + sp @ w["W_s'"])                      # s'_t = Φ(s_t W_y + s'_{t-1} W_s')
        for name, value in [(f"s_{t}", s), (f"s'_{t}", sp), (f"O_{t}", sp @ w["W"])]:   # O_t = s'_t W
            np.testing.assert_allclose(out[name].data, value, rtol=1e-12, atol=1e-14)
            assert out[name].name == name
    assert list(out)[:3] == ["s_1", "s'_1", "O_1"]


@pytest.mark.parametrize("phi", ["tanh", "relu"])
def test_three_step_network_matches_its_equations(phi):
    E_3, named = seed.three_step_network(phi=phi, seed=5)
    x, w, f = [named[f"x_{t}"].data for t in (1, 2, 3)], {k: named[k].data for k in ["W_x", "W_s", "W_y"]}, PHI[phi]
    s = named["s_0"].data
    for t in (1, 2, 3):
        s = f(x[t - 1] @ w["W_x"] + s @ w["W_s"])
        np.testing.assert_allclose(named[f"s_{t}"].data, s, rtol=1e-12)
    y = s @ w["W_y"]
    np.testing.assert_allclose(named["y_3"].data, y, rtol=1e-12)
    np.testing.assert_allclose(E_3.data, 0.5 * np.sum((y - named["d_3"].data) ** 2), rtol=1e-12)
    for name in ["s_1", "s_2", "s_3", "y_3", "E_3", "x_1", "d_3", "s_0", "W_x", "W_s", "W_y"]:
        assert named[name].name == name
    assert named["s_2"].node.scope_name == "seed/t=2" and E_3.node.scope_name == "seed/loss"


def test_three_step_network_is_reproducible_and_shared_between_phis():
    a, na = seed.three_step_network("tanh", seed=3)
    b, _ = seed.three_step_network("tanh", seed=3)
    _, nc = seed.three_step_network("relu", seed=3)
    assert a.item() == b.item()
    for k in ["x_1", "x_2", "x_3", "d_3", "s_0", "W_x", "W_s", "W_y"]:
        np.testing.assert_array_equal(na[k].data, nc[k].data)   # only Φ differs
    assert np.all(nc["s_1"].data > 0) and np.all(nc["s_3"].data > 0)   # no dead relu unit in the demo
    _, zero = seed.three_step_network("tanh", seed=3, s_0="zeros")
    assert not zero["s_0"].data.any()


@pytest.mark.parametrize("phi", ["tanh", "relu"])
def test_three_step_gradients_pass_gradcheck(phi):
    _, named = seed.three_step_network(phi=phi, seed=1)
    xs, d, s0 = [named[f"x_{t}"] for t in (1, 2, 3)], named["d_3"], named["s_0"]

    def E_3(W_x, W_s, W_y):
        net = seed.ThreeStepRNN(2, 3, 1, phi=phi, dtype=np.float64)
        net.W_x, net.W_s, net.W_y = W_x, W_s, W_y
        return net(xs, d, s0)["E_3"]
    assert tg.gradcheck(E_3, [named[k] for k in ["W_x", "W_s", "W_y"]])


@pytest.mark.parametrize("phi", ["tanh", "relu"])
def test_formula_2_terms_are_the_walk_contributions_of_each_use_of_W_s(phi):
    """dE_3/dW_s = Σ_t (term through s_t); the walk sends term t along the edge W_s -> (s_{t-1} W_s)."""
    E_3, named = seed.three_step_network(phi=phi, seed=0)
    E_3.backward(keep_grads=True)
    W_s = named["W_s"]
    uses = sorted((n for n in tg.graph(E_3) if n.op.name == "matmul" and n.inputs[1] is W_s), key=lambda n: n.index)
    assert [n.scope_name for n in uses] == ["seed/t=1", "seed/t=2", "seed/t=3"]
    terms = [n.input_grads[1] for n in uses]
    np.testing.assert_allclose(sum(terms), W_s.grad, rtol=1e-12)
    # term t is the derivative of E_3 when only the use of W_s at step t moves (finite differences)
    x, w, f = [named[f"x_{t}"].data for t in (1, 2, 3)], {k: named[k].data for k in ["W_x", "W_y"]}, PHI[phi]

    def e3(per_step):
        s = named["s_0"].data
        for t in range(3):
            s = f(x[t] @ w["W_x"] + s @ per_step[t])
        return 0.5 * np.sum((s @ w["W_y"] - named["d_3"].data) ** 2)
    eps = 1e-6
    for t, term in enumerate(terms):
        numeric = np.zeros_like(term)
        for idx in np.ndindex(term.shape):
            bump = np.zeros_like(term)
            bump[idx] = eps
            up = [W_s.data + (bump if k == t else 0) for k in range(3)]
            down = [W_s.data - (bump if k == t else 0) for k in range(3)]
            numeric[idx] = (e3(up) - e3(down)) / (2 * eps)
        np.testing.assert_allclose(term, numeric, rtol=1e-6, atol=1e-9)
        assert np.abs(term).max() > 0


def test_two_layer_network_builder_and_save_load(tmp_path):
    E, named = seed.two_layer_network("relu", seed=2, steps=4)
    assert {"s_4", "s'_4", "O_4", "d_4", "W_s'", "E"} <= set(named)
    total = sum(named[f"E_{t}"].item() for t in range(1, 5))
    assert named["E_2"].name == "E_2" and np.isclose(E.item(), total, rtol=1e-12)    # E = Σ_t E_t, each named
    walked, _ = seed.two_layer_network("relu", seed=2, steps=4)
    labels = [step.label for step in tg.Stepper(walked).run()]
    assert labels[1] == "E_≤3" and not any("#" in label for label in labels)     # the running sum, named
    assert [n.name for n in tg.graph(E) if n.op.name == "add" and n.name and "E" in n.name] == \
        ["E_≤1", "E_≤2", "E_≤3", "E"]
    E.backward(keep_grads=True)
    assert all(np.abs(named[k].grad).max() > 0 for k in ["W_x", "W_s", "W_y", "W_s'", "W"])
    net = seed.TwoLayerRNN(2, 3, 1)
    net.save(tmp_path / "seed.npz")
    other = seed.TwoLayerRNN(2, 3, 1).load(tmp_path / "seed.npz")
    np.testing.assert_array_equal(getattr(other, "W_s'").data, getattr(net, "W_s'").data)


def test_seed_network_errors():
    with pytest.raises(ValueError, match="phi must be 'tanh' or 'relu'"):
        seed.ThreeStepRNN(2, 3, 1, phi="sigmoid")
    net = seed.ThreeStepRNN(2, 3, 1)
    with pytest.raises(ValueError, match=r"xs must hold T >= 1 row vectors x_t of shape \(2,\)"):
        net(np.zeros((3, 5)), np.zeros(1))
    with pytest.raises(ValueError, match=r"d_3 must have the shape of y_3, \(1,\)"):
        net(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"s_0 must have the shape of one state row, \(3,\)"):
        net(np.zeros((3, 2)), np.zeros(1), np.zeros(4))
    with pytest.raises(ValueError, match="s_0 must be 'random' or 'zeros'"):
        seed.three_step_network(s_0="ones")
