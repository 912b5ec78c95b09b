"""Modules: parameter discovery and names, state_dict / load_state_dict, save / load, Linear, Embedding."""
import zipfile

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, rnn


class Tiny(nn.Module):
    def __init__(self):
        self.embed = nn.Embedding(5, 3, dtype=np.float64)
        self.rnn = rnn.GRU(3, 4, dtype=np.float64)
        self.heads = [nn.Linear(4, 2, dtype=np.float64), nn.Linear(4, 1, bias=False, dtype=np.float64)]
        self.scale = nn.Parameter(np.ones(1))
        self.not_a_parameter = tg.Tensor(np.ones(2), requires_grad=True)


def test_named_parameters_are_dotted_paths_in_assignment_order():
    m = Tiny()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "scale"]
    assert [p.name for p in m.parameters()] == names    # diagrams label a weight by the name a user types
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in m.parameters())
    assert "Parameter(" in repr(m.scale)


def test_shared_parameter_is_listed_once():
    m = nn.Module()
    m.a = nn.Linear(2, 2)
    m.b = m.a
    assert len(m.parameters()) == 2


def test_zero_grad_and_state_dict_copies():
    m = Tiny()
    x = np.array([[0, 1], [2, 4]])
    out, h = m.rnn(m.embed(x))
    (out.sum() + m.heads[0](h).sum() * m.scale).sum().backward()
    assert all(p.grad is not None for n, p in m.named_parameters() if not n.startswith("heads.1"))
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    sd = m.state_dict()
    sd["scale"][0] = 7.0
    assert m.scale.data[0] == 1.0                       # state_dict hands out copies


def test_load_state_dict_lists_every_problem_and_loads_nothing():
    m = Tiny()
    before = m.state_dict()
    bad = {k: v + 1 for k, v in before.items()}
    del bad["scale"]
    bad["rnn.weight_hh_l0"] = np.zeros((3, 3))
    bad["extra.weight"] = np.zeros(2)
    with pytest.raises(ValueError) as err:
        m.load_state_dict(bad)
    text = str(err.value)
    assert "missing key: scale" in text and "unexpected key: extra.weight" in text
    assert "rnn.weight_hh_l0: expected shape (12, 4), got (3, 3)" in text
    for k, v in m.state_dict().items():                 # nothing half-loaded
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="expected shape"):   # a wrong shape is an error even when not strict
        m.load_state_dict(bad, strict=False)
    del bad["rnn.weight_hh_l0"]
    result = m.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["rnn.weight_hh_l0", "scale"] and result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(m.embed.weight.data, before["embed.weight"] + 1)
    with pytest.raises(TypeError, match="dict of name -> array"):
        m.load_state_dict([1, 2])
    with pytest.raises(ValueError, match="expected numbers"):
        m.load_state_dict({**m.state_dict(), "scale": np.array(["a"])})


def test_save_load_round_trip(tmp_path):
    m, other = Tiny(), Tiny()
    path = tmp_path / "model.npz"
    m.save(path)
    assert other.load(path) is other
    for (k, v), (k2, v2) in zip(m.state_dict().items(), other.state_dict().items()):
        assert k == k2 and v.dtype == v2.dtype
        np.testing.assert_array_equal(v, v2)
    with np.load(path, allow_pickle=False) as archive:   # a plain .npz any numpy can read
        assert set(archive.files) == set(m.state_dict())


def test_load_rejects_corrupt_and_foreign_files(tmp_path):
    m = Tiny()
    good = tmp_path / "good.npz"
    m.save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all" * 10)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, scale=np.array([{"evil": 1}], dtype=object))
    for path in [truncated, garbage, single, pickled]:
        with pytest.raises(ValueError, match="not an .npz archive of parameters"):
            m.load(path)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(ValueError, match="missing key: embed.weight"):
        m.load(foreign)
    with pytest.raises(FileNotFoundError):
        m.load(tmp_path / "absent.npz")
    assert zipfile.is_zipfile(good)


def test_linear_matches_numpy_and_torch_init_bounds():
    tg.manual_seed(0)
    lin = nn.Linear(4, 3, dtype=np.float64)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    assert np.abs(lin.weight.data).max() <= 0.5 and np.abs(lin.bias.data).max() <= 0.5
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 5, 4)), requires_grad=True)
    y = lin(x)
    np.testing.assert_allclose(y.data, x.data @ lin.weight.data.T + lin.bias.data)
    y.sum().backward()
    np.testing.assert_allclose(lin.weight.grad, np.ones((2, 5, 3)).reshape(-1, 3).T @ x.data.reshape(-1, 4))
    np.testing.assert_allclose(lin.bias.grad, np.full(3, 10.0))
    assert nn.Linear(4, 3, bias=False).bias is None
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., in_features=4\)"):
        lin(np.zeros((2, 5)))
    with pytest.raises(TypeError, match="x must be a Tensor or a numpy array"):
        lin("hello")


def test_embedding_rows_and_repeated_index_gradient():
    emb = nn.Embedding(4, 2, dtype=np.float64)
    out = emb(np.array([[1, 1], [3, 1]]))
    np.testing.assert_array_equal(out.data[1, 0], emb.weight.data[3])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad, [[0, 0], [3, 3], [0, 0], [1, 1]])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\)"):
        emb(np.array([4]))
    with pytest.raises(TypeError, match="indices must be integers"):
        emb(np.array([0.5]))


def test_manual_seed_makes_init_repeatable():
    tg.manual_seed(42)
    a = rnn.LSTM(3, 4).state_dict()
    tg.manual_seed(42)
    b = rnn.LSTM(3, 4).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert tg.initial_seed() == 42
    with pytest.raises(ValueError, match="non-negative integer"):
        tg.manual_seed(-1)


def test_module_repr_and_forward_required():
    assert repr(rnn.LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert "(rnn): GRU(3, 4)" in repr(Tiny())
    with pytest.raises(NotImplementedError):
        nn.Module()(1)


class Stack(nn.Module):
    def __init__(self):
        self.rnn = tg.nn.LSTM(2, 3)
        self.heads = [nn.Linear(3, 1), (nn.Linear(3, 2),)]
        self.by_name = {"out": nn.Linear(2, 2)}


def test_train_and_eval_reach_every_module_as_in_torch(torch):
    model = Stack()
    every = [model, model.rnn, model.heads[0], model.heads[1][0], model.by_name["out"]]
    assert [m is e for m, e in zip(model.modules(), every)] == [True] * 5 and len(model.modules()) == 5
    assert all(m.training for m in every)
    assert model.eval() is model and not any(m.training for m in every)
    assert model.train() is model and all(m.training for m in every)
    model.heads[0].train(False)
    assert not model.heads[0].training and model.training and model.rnn.training
    reference = torch.nn.Sequential(torch.nn.LSTM(2, 3), torch.nn.Linear(3, 1))
    assert reference.training and not reference.eval()[0].training          # the same default and reach
    with pytest.raises(ValueError, match=r"Stack.train: mode must be a bool, got str 'no'"):
        model.train("no")


def test_recurrent_layers_are_in_tg_nn_as_in_torch_nn(torch):
    from tinygrad_rnn.nn import GRU as from_import
    for name in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"):
        assert getattr(tg.nn, name) is getattr(rnn, name) is getattr(tg, name)
        assert name in tg.nn.__all__ and hasattr(torch.nn, name)
    assert from_import is tg.GRU
