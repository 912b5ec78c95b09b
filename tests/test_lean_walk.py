"""backward(keep_grads=False) takes the lean walk: lazy gradients (a slice's gradient kept as the slice, a
shared weight's matmul terms multiplied out together), leaves filled at the end. Its gradients must be the
observed walk's, for every op and broadcasting pattern of the gradcheck table and for the shapes of
recurrent networks."""
import numpy as np
import pytest
from test_ops import CASES

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import lazy, ops, tape


def _grads(fn, arrays, grads, keep, dtype=np.float64):
    xs = [Tensor(np.array(a, dtype=dtype), requires_grad=g) for a, g in zip(arrays, grads)]
    out = fn(*xs)
    v = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    (out * v).sum().backward(keep_grads=keep)
    return [x.grad for x in xs]


@pytest.mark.parametrize("ops_, fn, arrays, grads, f32", CASES)
def test_lean_equals_observed_on_every_gradcheck_case(ops_, fn, arrays, grads, f32):
    for want, got in zip(_grads(fn, arrays, grads, True), _grads(fn, arrays, grads, False)):
        if want is None:
            assert got is None
        else:
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _rnn(xs, Wx, Ws, b, h0):
    """An unrolled RNN over slices of one input tensor: shared weights, getitem of a long tensor."""
    h, outs = h0, []
    proj = xs @ Wx                                   # (T, B, H): one matmul for every step
    Wt = Ws.T
    for t in range(xs.shape[0]):
        h = (proj[t] + h @ Wt + b).tanh()
        outs.append(h[:, :2] * h[:, 1:3])
    return tg.stack(outs).sum() + (h * h).sum()


@pytest.mark.parametrize("flush_rows", [1, 3, 7, 1 << 30])
def test_shared_matmul_weight_flushed_at_any_row_count(monkeypatch, flush_rows):
    monkeypatch.setattr(lazy, "FLUSH_ROWS", flush_rows)
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in [(9, 2, 3), (3, 4), (4, 4), (4,), (2, 4)]]
    want = _grads(_rnn, arrays, [True] * 5, True)
    got = _grads(_rnn, arrays, [True] * 5, False)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_leaf_reached_by_matmul_terms_and_dense_terms():
    """W gets Outer terms (x @ W, twice), a dense term (W * 2) and a slice (W[0]); all must add up."""
    rng = np.random.default_rng(2)
    fn = lambda x, W: ((x @ W).tanh() @ W).sum() + (W * 2.0).sum() + W[0].sum() * 3.0  # noqa: E731
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((3, 3))]
    for w, g in zip(_grads(fn, arrays, [True, True], True), _grads(fn, arrays, [True, True], False)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("index", [np.s_[1], np.s_[1, 2], np.s_[..., 1:3], np.s_[None, :, 0],
                                   np.s_[[0, 0, 2]], np.s_[[1, 1], [2, 2]], np.s_[True]],
                         ids=["int", "element", "ellipsis-slice", "newaxis", "repeats", "repeated-pairs", "bool"])
def test_slices_of_one_tensor_add_up(index):
    rng = np.random.default_rng(3)
    fn = lambda x: (x[index] * x[index]).sum() + x[index].sum() + (x * x).sum()  # noqa: E731
    arrays = [rng.standard_normal((3, 4))]
    np.testing.assert_allclose(_grads(fn, arrays, [True], False)[0], _grads(fn, arrays, [True], True)[0],
                               rtol=1e-12, atol=1e-12)


def test_lean_backward_accumulates_and_keeps_dtype():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    W = Tensor(np.ones((3, 3), np.float32), requires_grad=True)
    for _ in range(2):
        (x @ W)[:, 1:].sum().backward(keep_grads=False)
    assert x.grad.dtype == W.grad.dtype == np.float32
    np.testing.assert_array_equal(W.grad, np.tile([[0, 4, 4]], (3, 1)))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 4))


def test_lean_leaf_grad_is_its_own_array():
    """A leaf's gradient never aliases the seed, nor the array another leaf received."""
    x = Tensor(np.zeros(3), requires_grad=True)
    y = Tensor(np.zeros(3), requires_grad=True)
    seed = np.ones(3)
    (x + y).backward(seed, keep_grads=False)
    x.grad[0] = 5.0
    assert seed[0] == 1.0 and y.grad[0] == 1.0


def test_retained_intermediate_receives_lazy_terms_dense():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    W = Tensor(np.ones((3, 3)), requires_grad=True)
    Wt = W.T.retain_grad()
    h = x @ Wt
    (h @ Wt)[0].sum().backward(keep_grads=False)
    assert isinstance(Wt.grad, np.ndarray)
    np.testing.assert_allclose(W.grad, Wt.grad.T)


def test_lean_under_detect_anomaly_and_lean_with_kept_grads():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with tg.detect_anomaly():
        (x @ np.ones((3, 2)))[0].sum().backward(keep_grads=False)
    np.testing.assert_array_equal(x.grad, [[2, 2, 2], [0, 0, 0]])
    with pytest.raises(ValueError, match="lean"):
        list(tape.walk((x * 2).sum(), np.ones(()), keep_grads=True, lean=True))


def test_lazy_gradients_make_the_dense_ones():
    rng = np.random.default_rng(4)
    a, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    outer = lazy.Outer(a, g, np.float64)
    assert outer.shape == (3, 2)
    np.testing.assert_allclose(outer.dense(), a.T @ g)
    s = lazy.Scatter((4, 3), np.float64, (np.array([0, 0, 3]),), np.ones((3, 3)), basic=False)
    np.testing.assert_array_equal(s.dense().sum(axis=1), [6, 0, 0, 3])


def test_ops_without_a_lean_vjp_still_work_in_a_lean_walk():
    class Square:                     # duck-typed op, outside the ops table: only forward and vjp
        name = "square"

        def forward(x):
            return x * x, x

        def vjp(g, x, needs):
            return (2 * g * x,)

    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    tg.core.tensor.apply(Square, x).sum().backward(keep_grads=False)
    np.testing.assert_array_equal(x.grad, [2.0, -4.0])


@pytest.mark.parametrize("keep_grads", [False, True])
def test_a_0d_leaf_keeps_an_array_grad_through_dense_and_slice_terms(keep_grads):
    s = tg.Tensor(np.array(1.0), requires_grad=True)     # 0-d sums are numpy scalars: a slice's term into one was lost
    for _ in range(2):
        ((s[None] * 5.0).sum() + s * 2.0 + s * 3.0).backward(keep_grads=keep_grads)
        assert type(s.grad) is np.ndarray
    assert s.grad == 20.0


def test_requires_grad_set_to_a_numpy_bool_still_walks():
    x = tg.Tensor(np.ones((1, 2)))
    x.requires_grad = np.True_
    (x.tanh() * x).sum().backward()
    np.testing.assert_allclose(x.grad, np.tanh(1.0) + 1 - np.tanh(1.0) ** 2)


def test_a_watched_walk_keeps_each_weight_term_as_its_factors():
    """backward(keep_grads=True) keeps W_hh's term at each step as (g_t, h_{t-1}), not a dense (4H, H) matrix per
    step; reading it gives the dense term, the same bits as the vjp's, and .grad is their sum step by step."""
    tg.manual_seed(0)
    lstm = tg.LSTM(3, 4)
    out, _ = lstm(Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)))
    out.sum().backward(keep_grads=True)
    w = lstm.weight_hh_l0
    steps = [n for n in tape.graph(out) if n.op is ops.Linear and n.args[1] is w]
    assert len(steps) == 5 and all(isinstance(tape.edge_term(n, 1), lazy.Outer) for n in steps)
    total = None
    for n in reversed(steps):                            # the walk's order: the last step first
        term = n.input_grads[1]
        np.testing.assert_array_equal(term, ops.Linear.vjp(n.grad, (n.inputs[0].data, w.data, None), (1, 1))[1])
        total = np.array(term) if total is None else total + term
    np.testing.assert_array_equal(w.grad, total)
