"""torch.nn.RNN/LSTM/GRU's bidirectional=True and dropout=, in float64 against torch 2.13: outputs, final states,
every gradient, state_dicts both ways; the scopes that let a diagram show both directions and the dropout mask."""
import itertools

import numpy as np
import pytest

import tinygrad_rnn as tg
from test_rnn_parity import close, compare_layers, leaf

T, B, I, H = 4, 3, 5, 4
KINDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]


def make(kind, torch, **kw):
    """Our layer and torch's with the same (our) weights, loaded through torch's state_dict names."""
    base, _, nonlin = kind.partition("-")
    extra = {"nonlinearity": nonlin} if nonlin else {}
    ours = getattr(tg.nn, base.upper())(I, H, dtype=np.float64, **extra, **kw)
    theirs = getattr(torch.nn, base.upper())(I, H, **extra, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


BI_CASES = list(itertools.product(KINDS, [1, 2], [False, True], [False, True]))


@pytest.mark.parametrize("kind,num_layers,batch_first,with_state", BI_CASES)
def test_bidirectional_matches_torch(torch, kind, num_layers, batch_first, with_state):
    rng = np.random.default_rng(BI_CASES.index((kind, num_layers, batch_first, with_state)))
    ours, theirs = make(kind, torch, num_layers=num_layers, batch_first=batch_first, bidirectional=True)
    out, finals = compare_layers(torch, kind, ours, theirs, rng, batch_first, 2 * num_layers if with_state else 0)
    assert out.shape == ((B, T, 2 * H) if batch_first else (T, B, 2 * H))
    assert all(f.shape == (2 * num_layers, B, H) for f in finals)


@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_unbatched_and_state_dict_from_torch(torch, kind):
    base, _, nonlin = kind.partition("-")
    extra = {"nonlinearity": nonlin} if nonlin else {}
    theirs = getattr(torch.nn, base.upper())(I, H, num_layers=2, bidirectional=True, **extra)
    ours = getattr(tg.nn, base.upper())(I, H, num_layers=2, bidirectional=True, dtype=np.float64, **extra)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})    # torch's into ours
    assert any(k.endswith("_reverse") for k in ours.state_dict())
    x = np.random.default_rng(5).standard_normal((T, I))
    out, final = ours(x)
    tout, tfinal = theirs(torch.tensor(x))
    close(out.data, tout)
    close((final[0] if kind == "lstm" else final).data, tfinal[0] if kind == "lstm" else tfinal)
    assert out.shape == (T, 2 * H)


def test_bidirectional_scopes_show_both_directions():
    lstm = tg.nn.LSTM(2, 3, bidirectional=True, dtype=np.float64)
    out, (h_n, _) = lstm(np.ones((3, 1, 2)))
    loss = out.sum() + h_n.sum()
    nodes = tg.graph(loss)
    for sfx, t in itertools.product(["", "_reverse"], [1, 2, 3]):
        assert f"lstm/layer0{sfx}/t={t}/forget_gate" in {n.scope_name for n in nodes}
    uses = [n.scope_name for n in nodes for t in n.inputs if t is lstm.weight_hh_l0_reverse]
    assert uses == [f"lstm/layer0_reverse/t={t}" for t in (3, 2, 1)]   # the reverse direction runs from t = T
    concat = [n for n in nodes if n.op.name == "concat" and n.scope_name == "lstm/layer0"]
    assert len(concat) == 1 and concat[0].output.shape == (3, 1, 6)
    loss.backward()                                                   # the gradient flows back through both
    assert np.abs(lstm.weight_hh_l0.grad).sum() > 0 and np.abs(lstm.weight_hh_l0_reverse.grad).sum() > 0


# ---- dropout -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,bidirectional", list(itertools.product(KINDS, [False, True])))
def test_dropout_in_eval_mode_and_p0_match_torch(torch, kind, bidirectional):
    rng = np.random.default_rng(11)
    for p, mode in [(0.5, "eval"), (0.0, "train")]:
        ours, theirs = make(kind, torch, num_layers=3, dropout=p, bidirectional=bidirectional)
        getattr(ours, mode)()
        getattr(theirs, mode)()
        compare_layers(torch, kind, ours, theirs, rng)


def dropout_nodes(root):
    return [n for n in tg.graph(root) if n.scope_name.endswith("/dropout")]


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn-tanh"])
def test_dropout_mask_is_the_drawn_one_and_gradients_match_torch_with_it(torch, kind):
    """Training mode, p = 0.4: torch's layers run one by one with our mask between them give our numbers."""
    ours, _ = make(kind, torch, num_layers=2, dropout=0.4, bidirectional=True)
    tg.manual_seed(3)
    x, tx = leaf(torch, np.random.default_rng(4).standard_normal((T, B, I)))
    out, final = ours(x)
    finals = final if kind == "lstm" else (final,)
    (drop,) = dropout_nodes(out)
    assert drop.scope_name == f"{ours.name}/layer0/dropout" and drop.name == "dropout" and drop.op.name == "mul"
    mask = [t for t in drop.inputs if getattr(t, "name", None) == "mask"][0]
    assert mask.shape == (T, B, 2 * H) and set(np.unique(mask.data)) <= {0.0, 1 / 0.6}
    base, _, nonlin = kind.partition("-")
    extra = {"nonlinearity": nonlin} if nonlin else {}
    layers = [getattr(torch.nn, base.upper())(I if k == 0 else 2 * H, H, bidirectional=True, **extra) for k in (0, 1)]
    for k, layer in enumerate(layers):
        layer.load_state_dict({name.replace("_l0", f"_l{k}").replace(f"_l{k}", "_l0"): torch.tensor(v)
                               for name, v in ours.state_dict().items() if f"_l{k}" in name})
    mid, mid_final = layers[0](tx)
    tout, top_final = layers[1](mid * torch.tensor(mask.data))
    close(out.data, tout)
    tfinals = [torch.cat([a, b]) for a, b in zip(*[f if kind == "lstm" else (f,) for f in (mid_final, top_final)])]
    for f, tf in zip(finals, tfinals):
        close(f.data, tf)
    w = np.random.default_rng(6).standard_normal(out.shape)
    (out * tg.Tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    close(x.grad, tx.grad)
    for k, layer in enumerate(layers):
        for name, p in layer.named_parameters():
            close(getattr(ours, name.replace("_l0", f"_l{k}")).grad, p.grad)


def test_dropout_statistics_seed_and_modes():
    lstm = tg.nn.LSTM(3, 8, num_layers=2, dropout=0.3, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((50, 20, 3))

    def mask_after(seed):
        tg.manual_seed(seed)
        (drop,) = dropout_nodes(lstm(x)[0])
        return [t for t in drop.inputs if getattr(t, "name", None) == "mask"][0].data

    first, again, other = mask_after(1), mask_after(1), mask_after(2)
    np.testing.assert_array_equal(first, again)                        # tg.manual_seed repeats the mask
    assert not np.array_equal(first, other)
    dropped = np.mean(first == 0)                                      # 8000 draws: p = 0.3 +- 4 sigma
    assert abs(dropped - 0.3) < 4 * np.sqrt(0.3 * 0.7 / first.size)
    assert np.allclose(first[first != 0], 1 / 0.7)                     # kept entries scaled: expectation kept
    lstm.eval()
    assert dropout_nodes(lstm(x)[0]) == []                             # eval mode: no dropout node at all
    out_eval = lstm(x)[0].data
    lstm.train()
    tg.manual_seed(1)
    assert not np.allclose(lstm(x)[0].data, out_eval)
    one = tg.nn.GRU(3, 4, dropout=1.0, num_layers=2)
    (drop,) = dropout_nodes(one(x)[0])
    mask = [t for t in drop.inputs if getattr(t, "name", None) == "mask"][0]
    assert not mask.data.any()                                          # p = 1: everything dropped, as torch


def test_dropout_and_bidirectional_errors_and_repr(torch):
    with pytest.raises(ValueError, match=r"LSTM: dropout must be a number in \[0, 1\]"):
        tg.nn.LSTM(2, 3, num_layers=2, dropout=1.5)
    with pytest.warns(UserWarning, match=r"dropout=0.5 acts between layers"):
        tg.nn.GRU(2, 3, dropout=0.5)
    gru = tg.nn.GRU(2, 3, num_layers=2, dropout=0.25, bidirectional=True)
    assert repr(gru) == repr(torch.nn.GRU(2, 3, num_layers=2, dropout=0.25, bidirectional=True))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(num_layers \* 2, B, H\) = \(4, 5, 3\)"):
        gru(np.zeros((4, 5, 2)), np.zeros((2, 5, 3)))
