"""Exact in the corners: where an edge case could silently differ from PyTorch (compared in float64)."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.core.tensor import apply

INF, NAN = np.inf, np.nan


# ---- optimisers -------------------------------------------------------------------------------------

def test_sgd_momentum_buffer_is_a_copy_of_the_first_grad(torch):
    """An in-place change to .grad after a step (as keep_grads=True accumulation does) must not reach the
    momentum buffer: torch copies the first gradient into it."""
    ours = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    theirs = torch.tensor([1.0, 2.0], requires_grad=True)
    opt, topt = optim.SGD([ours], lr=0.1, momentum=0.9), torch.optim.SGD([theirs], lr=0.1, momentum=0.9)
    for step in range(3):
        ours.grad = np.array([0.5, -1.0]) if step == 0 else ours.grad
        theirs.grad = torch.tensor([0.5, -1.0]) if step == 0 else theirs.grad
        opt.step()
        topt.step()
        ours.grad += 1.0                                 # in place, on both sides
        theirs.grad += 1.0
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-15)
    assert opt.state[ours]["momentum_buffer"] is not ours.grad


# ---- boolean tensors and integer operands -------------------------------------------------------------

def test_a_boolean_tensor_stays_boolean_and_indexes_as_a_mask():
    mask = np.array([True, False, True])
    t = tg.Tensor(mask)
    assert t.dtype == np.bool_
    assert tg.Tensor([True, False]).dtype == np.bool_
    x = tg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True, dtype=np.float64)
    picked = x[t]
    np.testing.assert_array_equal(picked.data, [[0, 1], [4, 5]])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1, 1], [0, 0], [1, 1]])
    with pytest.raises(TypeError, match="float"):
        tg.Tensor(mask, requires_grad=True)


def test_integer_array_operands_join_float64_maths_without_float32_rounding(torch):
    big = np.array([16777217])                          # 2**24 + 1: not a float32
    x = tg.Tensor(np.zeros(1), dtype=np.float64)
    assert (x + big).data[0] == 16777217
    assert (big + x).data[0] == 16777217
    assert (x * big).dtype == np.float64
    assert (x + big).data[0] == (torch.zeros(1) + torch.tensor(big)).item()
    assert (tg.Tensor(np.zeros(1), dtype=np.float32) + big).dtype == np.float32     # torch: float32 too


# ---- pow at the edges ---------------------------------------------------------------------------------

def pow_grads(backend, a, b, dtypes=("float64", "float64")):
    if backend is None:
        ta = tg.Tensor(np.array(a), dtype=getattr(np, dtypes[0]), requires_grad=True)
        tb = tg.Tensor(np.array(b), dtype=getattr(np, dtypes[1]), requires_grad=True)
        with np.errstate(all="ignore"):
            (ta ** tb).sum().backward()
        return np.asarray(ta.grad, np.float64), np.asarray(tb.grad, np.float64)
    ta = backend.tensor(a, dtype=getattr(backend, dtypes[0]), requires_grad=True)
    tb = backend.tensor(b, dtype=getattr(backend, dtypes[1]), requires_grad=True)
    (ta ** tb).sum().backward()
    return ta.grad.double().numpy(), tb.grad.double().numpy()


def test_pow_gradients_at_zero_inf_and_nan_match_torch(torch):
    a = [0.0, 0.0, 0.0, 2.0, -2.0, INF, -INF, NAN, 0.0, 3.0]
    b = [-1.0, 2.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5, -2.5]
    ours, theirs = pow_grads(None, a, b), pow_grads(torch, a, b)
    for mine, torchs in zip(ours, theirs):
        np.testing.assert_array_equal(mine, torchs)
    assert ours[1][0] == -INF                            # d(0**b)/db at b < 0
    assert (ours[0][[5, 6, 7]] == 0).all()               # d(x**0)/dx at inf, -inf, nan


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
def test_pow_with_mixed_dtypes_computes_its_gradients_in_the_wider_dtype(torch, dtypes):
    """Both gradients are computed from the inputs widened to float64 (float32 maths is 1e-8 off). torch does
    the same for d/db; for d/da it forms b - 1 in b's own dtype (see the README's differences from PyTorch)."""
    a, b = [3.0, 0.7, 5.0], [0.1, -1.3, 2.2]
    wide_a, wide_b = (np.array(v, dtype=d).astype(np.float64) for v, d in zip((a, b), dtypes))
    exact_da, exact_db = wide_b * wide_a ** (wide_b - 1), wide_a ** wide_b * np.log(wide_a)
    da, db = pow_grads(None, a, b, dtypes)
    np.testing.assert_allclose(da, exact_da.astype(dtypes[0]), rtol=1e-15)
    np.testing.assert_allclose(db, exact_db.astype(dtypes[1]), rtol=1e-15)
    np.testing.assert_allclose(db, pow_grads(torch, a, b, dtypes)[1], rtol=1e-15)


def test_relu_passes_the_gradient_at_nan_as_torch(torch):
    x = [NAN, 1.0, -1.0, 0.0]
    t = tg.Tensor(np.array(x), requires_grad=True, dtype=np.float64)
    t.relu().sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    torch.relu(tt).sum().backward()
    np.testing.assert_array_equal(t.grad, tt.grad.numpy())
    assert t.grad[0] == 1.0


# ---- custom ops are shape-checked --------------------------------------------------------------------

def test_a_custom_op_subclassing_op_is_checked_for_gradient_shapes():
    class Doubled(tg.core.ops.Op):                      # registers itself in OPS, but is not built in
        name = "doubled_custom"

        def forward(x):
            return np.broadcast_to(x * 2.0, (2,) + x.shape).copy(), None

        def vjp(g, saved, needs):
            return (g * 2.0,)                            # forgets to sum the broadcast axis back

    try:
        assert tg.OPS["doubled_custom"] is Doubled
        for keep in (False, True):
            x = tg.Tensor(np.ones(3), requires_grad=True)
            with pytest.raises(tg.GraphError, match=r"doubled_custom .*shape \(2, 3\).*shape \(3,\)"):
                apply(Doubled, x).sum().backward(keep_grads=keep)
            assert x.grad is None
    finally:
        del tg.OPS["doubled_custom"]


# ---- modules find parameters in lists, tuples and dicts ----------------------------------------------

class Plain(nn.Module):
    def __init__(self):
        self.ws = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))]
        self.pair = (nn.Linear(2, 1),)
        self.by_name = {"scale": nn.Parameter(np.ones(1)), "deep": [nn.Parameter(np.ones(4))]}


def test_a_module_registers_parameters_in_plain_lists_tuples_and_dicts():
    m = Plain()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["ws.0", "ws.1", "pair.0.weight", "pair.0.bias", "by_name.scale", "by_name.deep.0"]
    assert m.ws[1].name == "ws.1"
    assert set(m.state_dict()) == set(names)


def test_torch_named_containers():
    class Net(nn.Module):
        def __init__(self):
            self.layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 1)])
            self.heads = nn.ModuleDict({"a": nn.Linear(1, 1)})
            self.extra = nn.ParameterList([nn.Parameter(np.zeros(2)), tg.Tensor(np.ones(1))])
            self.scales = nn.ParameterDict({"s": nn.Parameter(np.ones(1))})

    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "heads.a.weight", "heads.a.bias",
        "extra.0", "extra.1", "scales.s"]
    assert isinstance(net.extra[1], nn.Parameter) and len(net.layers) == 2
    net.layers.append(nn.Linear(1, 1))
    assert len(net.parameters()) == 11
    assert isinstance(net.layers[:2], nn.ModuleList) and list(net.heads.keys()) == ["a"]
    assert "(layers): ModuleList(\n    (0): Linear(2, 3" in repr(net)
    with pytest.raises(TypeError, match="ModuleList: expected a Module, got int"):
        net.layers.append(3)
    with pytest.raises(TypeError, match="keys must be non-empty strings"):
        net.heads["a.b"] = nn.Linear(1, 1)
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        net.layers(1)
    opt = optim.SGD(net.parameters(), lr=0.1)            # every weight is trained
    out = net.layers[1](net.layers[0](tg.Tensor(np.ones((1, 2)))))
    (out * net.extra[0].sum()).sum().backward()
    opt.step()


def test_a_require_flag_of_0_or_empty_requires_nothing(monkeypatch):
    from conftest import required
    for value, wanted in (("1", True), ("yes", True), ("0", False), ("", False), (" 0 ", False)):
        monkeypatch.setenv("TINYGRAD_RNN_REQUIRE_TORCH", value)
        assert required("TINYGRAD_RNN_REQUIRE_TORCH") is wanted
    monkeypatch.delenv("TINYGRAD_RNN_REQUIRE_TORCH")
    assert required("TINYGRAD_RNN_REQUIRE_TORCH") is False
