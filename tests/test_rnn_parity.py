"""RNN / LSTM / GRU cells and layers against PyTorch in float64: outputs, final states, every gradient."""
import itertools

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import rnn

TOL = 1e-8
T, B, I, H = 4, 3, 5, 4
KINDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]


def make(kind, torch, cell=False, **kw):
    """Our module and torch's with the same (our) weights."""
    base, _, nonlin = kind.partition("-")
    extra = {"nonlinearity": nonlin} if nonlin else {}
    ours = getattr(rnn, base.upper() + ("Cell" if cell else ""))(I, H, dtype=np.float64, **extra, **kw)
    name = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[base] + ("Cell" if cell else "")
    theirs = getattr(torch.nn, name)(I, H, **extra, **kw)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def close(a, b):
    b = b.detach().numpy()
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


def check_grads(ours, theirs, pairs):
    for name, p in ours.named_parameters():
        close(p.grad, getattr(theirs, name).grad)
    for mine, torch_leaf in pairs:
        close(mine.grad, torch_leaf.grad)


def leaf(torch, array):
    return tg.Tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


LAYER_CASES = list(itertools.product(KINDS, [1, 2], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize("kind,num_layers,batch_first,bias,with_state", LAYER_CASES)
def test_layer_parity(torch, kind, num_layers, batch_first, bias, with_state):
    rng = np.random.default_rng(LAYER_CASES.index((kind, num_layers, batch_first, bias, with_state)))
    ours, theirs = make(kind, torch, num_layers=num_layers, batch_first=batch_first, bias=bias)
    compare_layers(torch, kind, ours, theirs, rng, batch_first, num_layers if with_state else 0)


def compare_layers(torch, kind, ours, theirs, rng, batch_first=False, states=0):
    """Run both layers on the same input (and `states` initial states per (layer, direction) when > 0);
    compare outputs, final states and every gradient of a loss using all of them. Returns ours."""
    x, tx = leaf(torch, rng.standard_normal((B, T, I) if batch_first else (T, B, I)))
    pairs = [(x, tx)]
    state = tstate = None
    if states:
        h0, th0 = leaf(torch, rng.standard_normal((states, B, H)) * 0.5)
        state, tstate, pairs = h0, th0, pairs + [(h0, th0)]
        if kind == "lstm":
            c0, tc0 = leaf(torch, rng.standard_normal((states, B, H)) * 0.5)
            state, tstate, pairs = (h0, c0), (th0, tc0), pairs + [(c0, tc0)]
    out, final = ours(x, state)
    tout, tfinal = theirs(tx, tstate)
    finals = final if kind == "lstm" else (final,)
    tfinals = tfinal if kind == "lstm" else (tfinal,)
    close(out.data, tout)
    for f, tf in zip(finals, tfinals):
        close(f.data, tf)
    # a loss that uses every output and every final state, with distinct weights
    weights = [rng.standard_normal(out.shape)] + [rng.standard_normal(f.shape) for f in finals]
    loss = sum(((t * w).sum() for t, w in zip([out, *finals], weights)), tg.Tensor(np.float64(0)))
    tloss = sum((t * torch.tensor(w)).sum() for t, w in zip([tout, *tfinals], weights))
    close(loss.data, tloss)
    loss.backward()
    tloss.backward()
    check_grads(ours, theirs, pairs)
    return out, finals


@pytest.mark.parametrize("kind,bias,with_state", list(itertools.product(KINDS, [True, False], [False, True])))
def test_cell_parity(torch, kind, bias, with_state):
    rng = np.random.default_rng(1)
    ours, theirs = make(kind, torch, cell=True, bias=bias)
    x, tx = leaf(torch, rng.standard_normal((B, I)))
    pairs = [(x, tx)]
    state = tstate = None
    if with_state:
        h, th = leaf(torch, rng.standard_normal((B, H)))
        state, tstate, pairs = h, th, pairs + [(h, th)]
        if kind == "lstm":
            c, tc = leaf(torch, rng.standard_normal((B, H)))
            state, tstate, pairs = (h, c), (th, tc), pairs + [(c, tc)]
    # two applications, so the recurrent weights are used twice
    out1, tout1 = ours(x, state), theirs(tx, tstate)
    out2, tout2 = ours(x * 0.5, out1), theirs(tx * 0.5, tout1)
    outs = [*out1, *out2] if kind == "lstm" else [out1, out2]
    touts = [*tout1, *tout2] if kind == "lstm" else [tout1, tout2]
    weights = [rng.standard_normal(o.shape) for o in outs]
    for o, to in zip(outs, touts):
        close(o.data, to)
    sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(touts, weights)).backward()
    check_grads(ours, theirs, pairs)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_matches_torch(torch, kind):
    ours, theirs = make(kind, torch, num_layers=2)
    x = np.random.default_rng(2).standard_normal((T, I))
    out, final = ours(x)
    tout, tfinal = theirs(torch.tensor(x))
    close(out.data, tout)
    close((final[0] if kind == "lstm" else final).data, tfinal[0] if kind == "lstm" else tfinal)
    cell, tcell = make(kind, torch, cell=True)
    h = cell(x[0])
    th = tcell(torch.tensor(x[0]))
    close((h[0] if kind == "lstm" else h).data, th[0] if kind == "lstm" else th)


@pytest.mark.parametrize("kind", KINDS)
def test_default_init_is_uniform_in_one_over_sqrt_hidden(kind):
    base, _, nonlin = kind.partition("-")
    tg.manual_seed(0)
    m = getattr(rnn, base.upper())(I, 64, num_layers=2, **({"nonlinearity": nonlin} if nonlin else {}))
    for p in m.parameters():                           # at least 64 values each: their max nears the bound
        assert p.dtype == tg.get_default_dtype()
        assert 0.9 / 8 < np.abs(p.data).max() <= 1 / 8


def test_gate_shapes_and_names_follow_torch():
    lstm, gru, cell = rnn.LSTM(3, 5, num_layers=2), rnn.GRU(3, 5, bias=False), rnn.LSTMCell(3, 5)
    assert {n: p.shape for n, p in lstm.named_parameters()} == {
        "weight_ih_l0": (20, 3), "weight_hh_l0": (20, 5), "bias_ih_l0": (20,), "bias_hh_l0": (20,),
        "weight_ih_l1": (20, 5), "weight_hh_l1": (20, 5), "bias_ih_l1": (20,), "bias_hh_l1": (20,)}
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_scopes_and_names_for_diagrams():
    lstm = rnn.LSTM(2, 3, num_layers=2, dtype=np.float64)
    x = tg.Tensor(np.ones((3, 1, 2)), requires_grad=True)
    out, (_, c_n) = lstm(x)
    loss = out.sum() + c_n.sum()                        # keep the root alive: graph() holds weak references
    nodes = tg.graph(loss)
    scopes = {n.scope_name for n in nodes}
    for k, t in itertools.product([0, 1], [1, 2, 3]):
        for gate in ["forget_gate", "input_gate", "cell", "output_gate"]:
            assert f"lstm/layer{k}/t={t}/{gate}" in scopes
    named = {(n.output.name, n.scope_name) for n in nodes if n.output.name}
    assert ("h^(1)_2", "lstm/layer1/t=2") in named and ("c_3", "lstm/layer0/t=3/cell") in named
    assert ("f_1", "lstm/layer0/t=1/forget_gate") in named
    # the input projection of all steps is one linear op per layer, on a (T, B, I) input
    projections = [n for n in nodes if n.op.name == "linear" and n.scope_name == "lstm/layer0"]
    assert len(projections) == 1 and projections[0].inputs[0].shape == (3, 1, 2)
    assert projections[0].inputs[1] is lstm.weight_ih_l0 and projections[0].inputs[2] is lstm.bias_ih_l0
    # the recurrent weight itself (no transpose made once) is an input at every step: one edge per step
    for k in (0, 1):
        w_hh = getattr(lstm, f"weight_hh_l{k}")
        uses = [n.scope_name for n in nodes for t in n.inputs if t is w_hh]
        assert uses == [f"lstm/layer{k}/t={t}" for t in (1, 2, 3)]
        assert all(n.op.name == "linear" for n in nodes if any(t is w_hh for t in n.inputs))
    assert not [n for n in nodes if n.op.name in ("transpose", "matmul")]
    gru = rnn.GRU(2, 3, name="enc")
    scopes = {n.scope_name for n in tg.graph(gru(x.detach() * 1 + x)[0].sum())}
    assert {"enc/layer0/t=1/reset_gate", "enc/layer0/t=2/update_gate", "enc/layer0/t=3/candidate"} <= scopes


def test_state_shape_errors_name_the_expected_shape():
    lstm = rnn.LSTM(2, 3, num_layers=2)
    x = np.zeros((4, 5, 2))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(num_layers, B, H\) = \(2, 5, 3\), got \(5, 3\)"):
        lstm(x, (np.zeros((5, 3)), np.zeros((2, 5, 3))))
    with pytest.raises(TypeError, match=r"pair \(h_0, c_0\)"):
        lstm(x, np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"input must have shape \(T, B, input_size\) with input_size=2"):
        lstm(np.zeros((4, 5, 7)))
    with pytest.raises(ValueError, match=r"h must have shape \(B, H\) = \(5, 3\), got \(5, 4\)"):
        rnn.GRUCell(2, 3)(np.zeros((5, 2)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        rnn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers must be at least 1"):
        rnn.GRU(2, 3, num_layers=0)
    with pytest.raises(TypeError, match="hidden_size must be an integer"):
        rnn.RNNCell(2, 3.0)


@pytest.mark.parametrize("cls", [rnn.RNNCell, rnn.LSTMCell, rnn.GRUCell])
def test_gradcheck_small_cells(cls):
    """Two steps of a cell: d(output)/d(x, h, every weight) against finite differences."""
    rng = np.random.default_rng(3)
    cell = cls(2, 3, dtype=np.float64)
    names = [n for n, _ in cell.named_parameters()]
    x, h = rng.standard_normal((2, 2)), rng.standard_normal((2, 3))

    def two_steps(x, h, *weights):
        for name, w in zip(names, weights):             # gradcheck hands us float64 copies to use
            object.__setattr__(cell, name, w)
        state = (h, h * 0.5) if cls is rnn.LSTMCell else h
        state = cell(x, cell(x * 2, state))
        return state[0] * state[1] if cls is rnn.LSTMCell else state
    assert tg.gradcheck(two_steps, [tg.Tensor(x, requires_grad=True), tg.Tensor(h, requires_grad=True),
                                    *[tg.Tensor(p.data, requires_grad=True) for p in cell.parameters()]])


def _steps(t):
    return sorted({int(p[2:]) for n in tg.graph(t) for p in n.scope if p.startswith("t=")})


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_a_second_call_given_the_first_ones_state_goes_on_at_t_plus_one(kind):
    """Two chunks with the state carried on (not detached) are one sequence on the tape: steps t=1..6, the
    second chunk starting from h_3, the same numbers and gradients as one call over all six steps."""
    layer = getattr(rnn, kind)(2, 3, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((6, 1, 2)), requires_grad=True)
    first, state = layer(x[:3])
    second, _ = layer(x[3:], state)
    assert _steps(second) == [1, 2, 3, 4, 5, 6]
    names = {n.name for n in tg.graph(second) if "t=4" in n.scope}
    assert {"h_4", "xW_4"} <= names and ("c_4" in names) == (kind == "LSTM")
    start = {n.name for n in tg.graph(second) if n.scope == ("lstm" if kind == "LSTM" else kind.lower(),)}
    assert "h_3" in start and ("c_3" in start) == (kind == "LSTM")       # the carried state, named as step 3's
    (second ** 2).sum().backward()
    carried, x_grad = second.data.copy(), x.grad.copy()
    x.grad = None
    whole, _ = layer(x)
    np.testing.assert_array_equal(whole.data[3:], carried)
    (whole[3:] ** 2).sum().backward()
    np.testing.assert_allclose(x.grad, x_grad, rtol=1e-12, atol=1e-15)


def test_a_state_that_is_not_the_layers_own_last_one_starts_again_at_t_1():
    """A detached state, another layer's, an LSTM pair whose c was changed, a bidirectional layer's (its reverse
    direction does not go on) and a packed batch's (its sequences end at different steps): a new sequence."""
    lstm, other = rnn.LSTM(2, 3), rnn.LSTM(2, 3)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    _, (h, c) = lstm(x[:2])
    assert _steps(lstm(x[2:], rnn.detach_state((h, c)))[0]) == [1, 2]
    assert _steps(other(x[2:], (h, c))[0]) == [1, 2]
    assert _steps(lstm(x[2:], (h, c * 0.0))[0]) == [1, 2]
    assert _steps(lstm(x[2:], [h, c])[0]) == [1, 2, 3, 4]               # the pair as a list: still the layer's own
    both = rnn.GRU(2, 3, bidirectional=True)
    _, hb = both(x[:2])
    assert _steps(both(x[2:], hb)[0]) == [1, 2]
    gru = rnn.GRU(2, 3)
    _, hp = gru(tg.pack_padded_sequence(tg.Tensor(x), [4, 2]))
    assert _steps(gru(x[2:], hp)[0]) == [1, 2, 3, 4]                  # the packed call's 4 steps; no 5, 6


def test_truncated_bptt_detach_cuts_the_graph():
    gru = rnn.GRU(2, 3, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 1, 2))
    _, h = gru(x[:2])
    h = rnn.detach_state(h)                             # the one line of truncated BPTT
    assert h.is_leaf and not h.requires_grad
    out, _ = gru(x[2:], h)
    assert len([n for n in tg.graph(out.sum()) if n.op.name == "sigmoid"]) == 4  # 2 steps x (r, z) only
    pair = rnn.detach_state((tg.Tensor(1.0, requires_grad=True) * 2, None))
    assert isinstance(pair, tuple) and pair[0].is_leaf and pair[1] is None
