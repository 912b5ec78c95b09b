"""The reference walk (tape.reference_walk, the screenful a student reads) against the fast walk that
`backward()` runs: the sum of each leaf's terms is its .grad, lean or keep_grads, on the library's layers, the
cells in a hand-written loop and the seed's networks; a weight gets one term per use, and for the seed's
three-step network those terms are formula (2)'s terms as the bptt module reports them."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, bptt
from tinygrad_rnn.core import tape
from tinygrad_rnn.teach import seed


def _loss(out):
    """A loss that weighs every element differently, so a wrong sum cannot hide behind symmetry."""
    out = out[0] if isinstance(out, tuple) else out
    w = np.random.default_rng(7).standard_normal(out.shape)
    return (out * Tensor(w)).sum()


def _layer(cls, layers):
    tg.manual_seed(0)
    model = cls(3, 4, num_layers=layers, dtype=np.float64)
    x = Tensor(np.random.default_rng(1).standard_normal((5, 2, 3)), name="x")
    return _loss(model(x)), dict(model.named_parameters())


def _cell_loop(cls):
    """The learner's own loop over a cell: the cell's weights are used once per step."""
    tg.manual_seed(0)
    cell = cls(3, 4, dtype=np.float64)
    xs = np.random.default_rng(1).standard_normal((4, 2, 3))
    state, outs = None, []
    for x in xs:
        state = cell(Tensor(x), state)
        outs.append(state[0] if isinstance(state, tuple) else state)
    return _loss(tg.stack(outs)), dict(cell.named_parameters())


def _seed_net(which):
    E, named = seed.three_step_network() if which == "three_step" else seed.two_layer_network(steps=4)
    return E, {k: t for k, t in named.items() if k.startswith("W")}


NETWORKS = {
    **{f"{cls.__name__}-{n}layer": (lambda cls=cls, n=n: _layer(cls, n))
       for cls in (tg.RNN, tg.LSTM, tg.GRU) for n in (1, 2)},
    **{f"{cls.__name__}-loop": (lambda cls=cls: _cell_loop(cls)) for cls in (tg.RNNCell, tg.LSTMCell, tg.GRUCell)},
    "seed-three_step": lambda: _seed_net("three_step"),
    "seed-two_layer": lambda: _seed_net("two_layer"),
}


def _uses(root, leaf):
    """How many edges of the graph go into `leaf` (a + a is two)."""
    return sum(a is leaf for node in tape.nodes_newest_first(root.node) for a in node.args)


@pytest.mark.parametrize("keep_grads", [False, True], ids=["lean", "keep_grads"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_fast_walk_equals_the_sum_of_the_reference_terms(name, keep_grads):
    root, params = NETWORKS[name]()
    terms = tape.reference_walk(root, tape.initial_grad(root))
    assert set(map(id, terms)) == {id(p) for p in params.values()}   # every term left is a weight's
    root.backward(keep_grads=keep_grads)
    for pname, p in params.items():
        assert len(terms[p]) == _uses(root, p), pname              # one term per use of the weight
        assert all(c.shape == p.shape and c.dtype == p.dtype for c in terms[p])
        np.testing.assert_allclose(sum(terms[p]), p.grad, rtol=1e-12, atol=1e-13, err_msg=pname)


def test_reference_walk_changes_nothing():
    root, params = NETWORKS["LSTM-2layer"]()
    tape.reference_walk(root, tape.initial_grad(root))
    assert all(p.grad is None for p in params.values())
    assert all(node.saved is not tape.FREED and node.grad is None for node in tape.nodes_newest_first(root.node))
    root.backward()                                                 # the graph can still be walked
    assert all(p.grad is not None for p in params.values())


def test_a_recurrent_weight_gets_one_term_per_time_step():
    root, params = NETWORKS["RNN-1layer"]()
    terms = tape.reference_walk(root, tape.initial_grad(root))
    assert len(terms[params["weight_hh_l0"]]) == 5 and len(terms[params["bias_hh_l0"]]) == 5   # T = 5 steps
    assert len(terms[params["weight_ih_l0"]]) == 1                 # the input projection is one batched op


@pytest.mark.parametrize("phi", ["tanh", "relu"])
def test_seed_terms_are_formula_2s_terms(phi):
    """W_s in the seed's three-step network is used at t = 3, 2, 1: three terms, each the bptt module's."""
    E, named = seed.three_step_network(phi=phi)
    terms = tape.reference_walk(E, tape.initial_grad(E))
    formulas = {f.weight: f for f in bptt.seed_formulas(E, named)}
    assert [len(terms[named[w]]) for w in ("W_y", "W_s", "W_x")] == [1, 3, 3]
    for w, f in formulas.items():
        assert [term.t for term in f.terms] == [3, 2, 1][:len(f.terms)]     # both walks visit t = 3 first
        for mine, theirs in zip(terms[named[w]], f.terms, strict=True):
            np.testing.assert_allclose(mine, theirs.value, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(sum(terms[named[w]]), named[w].grad, rtol=1e-12)


def test_reference_walk_sums_a_tensor_used_twice_before_going_on():
    """a + a: two edges into the same intermediate; its terms are added before its own vjp runs."""
    x = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    y = x.tanh()
    out = ((y + y) * x).sum()
    terms = tape.reference_walk(out, tape.initial_grad(out))
    assert len(terms[x]) == 2                                       # through tanh, and directly into mul
    out.backward()
    np.testing.assert_allclose(sum(terms[x]), x.grad, rtol=1e-15)
    np.testing.assert_allclose(x.grad, 2 * np.tanh(x.data) + 2 * x.data * (1 - np.tanh(x.data) ** 2))
