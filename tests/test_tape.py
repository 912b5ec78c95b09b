"""The tape: what forward records, what the one backward walk leaves on it, grad modes and dtypes."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import tape


@pytest.fixture
def default_dtype():
    before = tg.get_default_dtype()
    yield
    tg.set_default_dtype(before)


def leaf(*shape, seed=0, name=None):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True, name=name)


def small_graph():
    x, W = leaf(2, 3, name="x"), leaf(3, 3, seed=1, name="W")
    with tg.scope("lstm"):
        with tg.scope("layer0/t=3"):
            a = x @ W
        b = a.tanh()
    c = b * x
    loss = c.sum()
    return x, W, a, b, c, loss


# ---- the record ------------------------------------------------------------------------------------
def test_graph_lists_nodes_in_execution_order_with_inputs_outputs_and_scopes():
    x, W, a, b, c, loss = small_graph()
    nodes = tg.graph(loss)
    assert [n.op.name for n in nodes] == ["matmul", "tanh", "mul", "sum"]
    assert [n.op for n in nodes] == [tg.OPS["matmul"], tg.OPS["tanh"], tg.OPS["mul"], tg.OPS["sum"]]
    assert [n.index for n in nodes] == sorted(n.index for n in nodes)
    assert all(isinstance(n, tg.Node) for n in nodes)
    ins = [n.inputs for n in nodes]
    assert ins[0][0] is x and ins[0][1] is W                  # argument order kept
    assert ins[1][0] is a and ins[2][0] is b and ins[2][1] is x and ins[3][0] is c
    assert [n.output for n in nodes] == [a, b, c, loss] and all(
        n.output is t for n, t in zip(nodes, (a, b, c, loss)))
    assert [n.scope for n in nodes] == [("lstm", "layer0", "t=3"), ("lstm",), (), ()]
    assert [n.scope_name for n in nodes] == ["lstm/layer0/t=3", "lstm", "", ""]
    assert a.node is nodes[0] and x.node is None and x.is_leaf and not a.is_leaf
    assert tg.graph(x) == [] and tg.graph(a) == [nodes[0]]


def test_argument_order_distinguishes_edges():
    x, h = leaf(3, name="x"), leaf(3, seed=1, name="h")
    n1, n2 = tg.graph(x - h)[0], tg.graph(h - x)[0]
    assert n1.inputs[0] is x and n1.inputs[1] is h and n2.inputs[0] is h and n2.inputs[1] is x
    node = tg.graph(x + x)[0]
    assert len(node.inputs) == 2 and node.inputs[0] is x and node.inputs[1] is x


def test_after_backward_nodes_hold_per_edge_gradients_and_shared_leaf_sums_them():
    x, W, a, b, c, loss = small_graph()
    loss.backward(keep_grads=True)
    mm, th, mul, sm = tg.graph(loss)
    xd, Wd = x.data, W.data
    t = np.tanh(xd @ Wd)
    db = xd                                         # d loss / d b
    da = db * (1 - t ** 2)
    np.testing.assert_allclose(sm.grad, 1.0)
    np.testing.assert_allclose(mul.grad, np.ones((2, 3)))
    np.testing.assert_allclose(mul.input_grads[0], db)
    np.testing.assert_allclose(mul.input_grads[1], t)   # the direct edge into x
    np.testing.assert_allclose(th.grad, db)
    np.testing.assert_allclose(th.input_grads[0], da)
    np.testing.assert_allclose(mm.grad, da)
    np.testing.assert_allclose(mm.input_grads[0], da @ Wd.T)
    np.testing.assert_allclose(mm.input_grads[1], xd.T @ da)
    for n in (mm, th, mul, sm):
        assert n.grad.shape == n.output.shape
        assert len(n.input_grads) == len(n.inputs)
    np.testing.assert_allclose(x.grad, mm.input_grads[0] + mul.input_grads[1], rtol=1e-14)
    np.testing.assert_allclose(W.grad, xd.T @ da, rtol=1e-14)
    assert a.grad is None and b.grad is None          # non-leaves keep no .grad unless asked


def test_a_leaf_used_at_every_step_gets_the_sum_of_its_edges():
    W, x = leaf(3, 3, name="W"), leaf(2, 3, seed=1, name="x")
    s = x
    for t in range(5):
        with tg.scope(f"t={t}"):
            s = (s @ W).tanh()
    s.sum().backward(keep_grads=True)
    edges = [n.input_grads[k] for n in tg.graph(s) for k, t in enumerate(n.inputs) if t is W]
    assert len(edges) == 5
    np.testing.assert_allclose(W.grad, sum(edges), rtol=1e-13)
    assert [n.scope_name for n in tg.graph(s) if n.op.name == "matmul"] == [f"t={t}" for t in range(5)]


def test_walk_is_the_backward_one_step_at_a_time():
    x, W, a, b, c, loss = small_graph()
    walk = tg.walk(loss, np.ones(()))
    first = next(walk)
    assert isinstance(first, tg.Step) and first.number == 0 and first.node is loss.node
    assert first.output is loss and x.grad is None and W.grad is None   # nothing reached the leaves yet
    steps = [first, *walk]
    assert [s.number for s in steps] == list(range(4))
    assert [s.node.op.name for s in steps] == ["sum", "mul", "tanh", "matmul"]
    assert [s.node.index for s in steps] == sorted((s.node.index for s in steps), reverse=True)
    for s in steps:
        assert s.grad is s.node.grad and s.input_grads is s.node.input_grads
    x2, W2, *_, loss2 = small_graph()
    loss2.backward(keep_grads=True)
    np.testing.assert_array_equal(x.grad, x2.grad)
    np.testing.assert_array_equal(W.grad, W2.grad)


def test_keep_grads_false_leaves_the_nodes_clean():
    x, W, a, b, c, loss = small_graph()
    loss.backward(keep_grads=False)
    assert all(n.grad is None and n.input_grads is None for n in tg.graph(loss))
    x2, W2, *_, loss2 = small_graph()
    loss2.backward(keep_grads=True)
    np.testing.assert_array_equal(W.grad, W2.grad)


# ---- scopes and grad mode --------------------------------------------------------------------------
def test_scopes_nest_and_unwind():
    assert tg.current_scope() == ""
    with tg.scope("lstm"):
        with tg.scope("layer0/t=3"):
            assert tg.current_scope() == "lstm/layer0/t=3"
            with tg.scope("forget_gate"):
                y = leaf(2) * 2.0
        assert tg.current_scope() == "lstm"
        with pytest.raises(RuntimeError):
            with tg.scope("t=4"):
                raise RuntimeError("boom")
        assert tg.current_scope() == "lstm"
    assert tg.current_scope() == ""
    assert y.node.scope == ("lstm", "layer0", "t=3", "forget_gate")
    assert y.node.scope_name == "lstm/layer0/t=3/forget_gate"
    for bad in ("", "/", None, 3):
        with pytest.raises(ValueError):
            with tg.scope(bad):
                pass


def test_no_grad_records_nothing():
    x = leaf(2, 3)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = (x * 2.0).tanh().sum()
        with tg.no_grad():
            pass
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert y.node is None and not y.requires_grad and tg.graph(y) == []
    np.testing.assert_allclose(y.data, np.tanh(x.data * 2).sum())
    with pytest.raises(tg.GraphError):
        y.backward(keep_grads=True)

    @tg.no_grad()
    def evaluate(t):
        return t * 3.0
    assert evaluate(x).node is None and tg.is_grad_enabled()
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_values():
    x = leaf(3)
    d = x.detach()
    assert d.node is None and not d.requires_grad and d.data is x.data
    (x * d).sum().backward(keep_grads=True)
    np.testing.assert_allclose(x.grad, x.data)        # not 2x: d is a constant
    assert d.grad is None


def test_constants_never_receive_a_gradient():
    x, c = leaf(2, 3), Tensor(np.ones((2, 2)))
    y = tg.concat([x, c], axis=1).sum() + tg.stack([c, c]).sum() * 0.0 + (x[:, :2] * c).sum()
    y.backward(keep_grads=True)
    assert c.grad is None and x.grad is not None


def test_retain_grad_keeps_grad_on_non_leaves_and_accumulates_like_pytorch():
    x = leaf(2)
    y = (x * 2.0).retain_grad()
    z = y * 3.0
    loss = (y * z).sum()
    loss.backward(retain_graph=True, keep_grads=True)
    np.testing.assert_allclose(y.grad, 6 * y.data)   # d(3 y^2)/dy
    assert z.grad is None
    loss.backward(keep_grads=True)
    np.testing.assert_allclose(y.grad, 12 * y.data)
    np.testing.assert_allclose(x.grad, 24 * y.data)
    assert loss.retain_grad() is loss


@pytest.mark.parametrize("keep_grads", [True, False])
def test_second_backward_through_freed_graph_is_an_error_and_changes_nothing(keep_grads):
    w, v = leaf(3, name="w"), leaf(3, seed=1, name="v")
    y = (v * 2.0).tanh()
    y.sum().backward(keep_grads=keep_grads)
    assert all(n.saved is tape.FREED for n in tg.graph(y))
    v_grad = v.grad.copy()
    with pytest.raises(tg.GraphError, match="detach_state.*retain_graph=True"):   # meets y's node half-way
        (y * w).sum().backward(keep_grads=keep_grads)
    assert w.grad is None                              # nothing half-accumulated before the error
    np.testing.assert_array_equal(v.grad, v_grad)
    root = (v * 3.0).sum()
    root.backward(keep_grads=keep_grads)
    with pytest.raises(tg.GraphError, match="a second time") as again:   # the same root: no chunk to cut
        root.backward(keep_grads=keep_grads)
    assert "detach_state" not in str(again.value)


def test_retain_graph_allows_a_second_backward_and_grads_accumulate():
    x = leaf(2, 3)
    loss = (x.tanh() * x).sum()
    loss.backward(retain_graph=True, keep_grads=True)
    first = x.grad.copy()
    loss.backward(keep_grads=True)
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-15)
    with pytest.raises(tg.GraphError):
        loss.backward(keep_grads=True)


def test_leaf_grad_accumulates_over_two_backward_calls():
    x = leaf(3)
    for _ in range(2):
        (x * x).sum().backward(keep_grads=True)
    np.testing.assert_allclose(x.grad, 4 * x.data)
    x.grad = None
    (x * x).sum().backward(keep_grads=True)
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_backward_on_a_leaf_like_pytorch():
    w = Tensor(3.0, requires_grad=True)
    w.backward(keep_grads=True)
    w.backward(keep_grads=True)
    assert w.grad == 2.0


def test_grads_do_not_alias():
    x, y = leaf(2, 3), leaf(2, 3, seed=1)
    s = x + y
    s.sum().backward(keep_grads=True)
    x.grad += 1.0
    np.testing.assert_array_equal(y.grad, np.ones((2, 3)))
    np.testing.assert_array_equal(s.node.input_grads[1], np.ones((2, 3)))
    a = leaf(3)
    (a + a).sum().backward(keep_grads=True)
    before = a.grad
    (a + a).sum().backward(keep_grads=True)
    np.testing.assert_array_equal(before, 2.0)         # the earlier array is not changed in place
    np.testing.assert_array_equal(a.grad, 4.0)
    r = (x * 1.0).retain_grad()
    (r * 2.0).sum().backward(keep_grads=True)
    r.grad[0, 0] = 99.0
    np.testing.assert_array_equal(r.node.grad, 2.0)                # .grad is a copy of the edge's array


def test_a_watched_walk_adds_a_shared_weights_terms_into_one_array_of_its_own():
    w = leaf(2, 3)
    h = leaf(2, 3, seed=1)
    for _ in range(4):
        h = (h * w).tanh()                               # w used at four steps: four terms into w.grad
    terms = []
    grads = set()
    for step in tape.walk(h, np.ones((2, 3)), keep_grads=True):
        if step.node.op.name == "mul":
            terms.append(np.array(step.input_grads[1]))
            grads.add(id(w.grad))
    assert len(terms) == 4 and len(grads) == 1         # one array, added into in place
    np.testing.assert_array_equal(w.grad, ((terms[0] + terms[1]) + terms[2]) + terms[3])
    muls = [n for n in tape.graph(h) if n.op.name == "mul"]
    assert not any(np.shares_memory(w.grad, n.input_grads[1]) for n in muls)   # no edge's kept term changed


def test_changing_an_index_array_after_forward_does_not_change_the_backward():
    x = leaf(4)
    idx = np.array([0, 0, 2])
    y = x[idx]
    idx[:] = 3
    y.sum().backward(keep_grads=True)
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 1.0, 0.0])


def test_iterating_a_tensor_yields_rows():
    x = leaf(3, 2)
    rows = list(x)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    a, b, c = x
    (a + c * 2.0).sum().backward(keep_grads=True)
    np.testing.assert_array_equal(x.grad, [[1, 1], [0, 0], [2, 2]])


# ---- dtypes ------------------------------------------------------------------------------------------
def test_dtype_rules(default_dtype):
    assert Tensor(np.zeros(2)).dtype == np.float64                   # float64 stays float64
    assert Tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert Tensor(np.float64(1.5)).dtype == np.float64
    assert Tensor(1.5).dtype == np.float32                            # Python numbers, lists, ints -> default
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor(np.array([True, False])).dtype == np.bool_                # a mask stays a mask, as in torch
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    x64 = Tensor(np.ones(3), requires_grad=True)
    assert (x64 * 2.0 + 1 - 3 / x64).dtype == np.float64               # Python scalars take the tensor's dtype
    tg.set_default_dtype(np.float64)
    assert tg.get_default_dtype() == np.float64
    assert Tensor(1.5).dtype == np.float64 and Tensor([1, 2]).dtype == np.float64
    tg.set_default_dtype("float32")
    assert Tensor([1, 2]).dtype == np.float32
    with pytest.raises(TypeError, match="float"):
        tg.set_default_dtype(np.int32)
    assert tg.get_default_dtype() == np.float32


def test_float32_forward_and_backward_stay_float32():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    W = Tensor(np.full((3, 2), 0.5, np.float32), requires_grad=True)
    h = (x @ W).tanh()
    loss = ((h * 2.0 - 1) ** 2).mean() + h.sigmoid().max() + tg.cross_entropy(h, [0, 1])
    assert loss.dtype == np.float32 and loss.data.dtype == np.float32
    loss.backward(keep_grads=True)
    assert x.grad.dtype == np.float32 and W.grad.dtype == np.float32
    assert all(n.grad.dtype == np.float32 for n in tg.graph(loss))


def test_mixed_dtypes_keep_each_leaf_grad_in_its_own_dtype():
    w = Tensor(np.ones((3, 3), np.float32), requires_grad=True)
    x = Tensor(np.ones((2, 3)), requires_grad=True)                    # float64
    y = x @ w + tg.concat([x, w[:1]]).sum() + tg.stack([w[0], x[0]]).sum()
    assert y.dtype == np.float64
    y.sum().backward(keep_grads=True)
    assert w.grad.dtype == np.float32 and x.grad.dtype == np.float64
    for node in tg.graph(y):
        for t, g in zip(node.inputs, node.input_grads):
            assert g is None or g.dtype == t.dtype, node


def test_data_is_always_an_ndarray():
    x = leaf(2, 3)
    for y in (x.sum(), x.mean(), x.max(), x[0, 0], x.sum().exp(), (x @ x.T).sum()):
        assert isinstance(y.data, np.ndarray) and y.shape == () and isinstance(y.numpy(), np.ndarray)
        assert isinstance(y.item(), float)


def test_repr_and_item():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    with tg.scope("t=1"):
        y = x * 2.0
    assert repr(x).startswith("Tensor([1., 2.]") and "name='x'" in repr(x) and "requires_grad=True" in repr(x)
    assert "op=mul" in repr(y) and "scope='t=1'" in repr(y) and "float64" in repr(y)
    assert repr(tg.graph(y)[0]).endswith("mul((2,), ()) in t=1>")
    assert y.sum().item() == 6.0
    with pytest.raises(ValueError, match=r"\(2,\)"):
        y.item()
