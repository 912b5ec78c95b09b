"""The hot paths made cheap for speed keep their meaning: scopes, op application, the recorded order."""
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import tape


def test_scope_nests_splits_and_restores_on_error():
    x = Tensor(np.ones(2), requires_grad=True)
    with tg.scope("a/b"):
        with tg.scope("//c/"):
            y = x * 2.0
        z = y + 1.0
    with pytest.raises(KeyError), tg.scope("d"):
        raise KeyError
    assert y.node.scope == ("a", "b", "c") and z.node.scope == ("a", "b") and tg.current_scope() == ""
    with pytest.raises(ValueError, match="non-empty"):
        tg.scope("//")


def test_scope_as_a_decorator_is_fresh_per_call():
    @tg.scope("cell")
    def step(x, depth):
        return step(x, depth - 1) if depth else (x * 2.0, tg.current_scope())

    x = Tensor(np.ones(2), requires_grad=True)
    y, where = step(x, 2)
    assert where == "cell/cell/cell" and y.node.scope_name == "cell/cell/cell" and tg.current_scope() == ""


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ops_of_every_arity_record_their_inputs_in_order(n):
    xs = [Tensor(np.full(2, float(k)), requires_grad=True) for k in range(n)]
    out = tg.concat(xs) if n == 3 else (xs[0] - xs[1] if n == 2 else -xs[0])
    assert out.node.inputs == tuple(xs)


def test_recorded_is_newest_first_and_each_node_once():
    x = Tensor(np.ones(3), requires_grad=True)
    h = x
    for _ in range(5):
        h = h * h + h                                   # h used twice per step: one node, two edges
    pairs = tape.recorded(h)
    indices = [node.index for node, _ in pairs]
    assert indices == sorted(indices, reverse=True) and len(set(indices)) == len(indices) == 10
    assert all(out.node is node for node, out in pairs)


def test_a_number_becomes_one_shared_read_only_constant():
    z = Tensor(np.array([0.25, 0.5], np.float32), requires_grad=True)
    a, b = 1 - z, 1 - z
    assert a.node.inputs[0] is b.node.inputs[0] and not a.node.inputs[0].data.flags.writeable
    assert a.dtype == np.float32
    (a * b).sum().backward()
    np.testing.assert_allclose(z.grad, -2 * (1 - z.data))


def test_constants_keep_type_sign_and_nan():
    x = Tensor(np.array([1.0, -2.0]))
    assert np.signbit((x * -0.0).data).tolist() == [True, False] and np.signbit((x * 0.0).data).tolist() == [False, True]
    assert np.isnan((x * float("nan")).data).all()
    i = Tensor(np.array([3, 4]), dtype=np.int64)
    assert (i * 2).dtype == np.int64 and (i * 2.0).dtype == np.float64 and (i * 2.5).data.tolist() == [7.5, 10.0]


@pytest.mark.parametrize("shape", [(130, 7), (64, 5), (3, 200)])
def test_a_weight_transposed_once_gives_the_same_linear(shape):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(shape)
    x = Tensor(rng.standard_normal((4, shape[1])), requires_grad=True)
    W = Tensor(w, requires_grad=True)
    want = tg.linear(x, W).data
    other = Tensor(w.copy())                             # equal values, another array: not the transposed one
    with pytest.raises(KeyError), tg.core.ops.transposed_once(w):
        assert tg.core.mode.state.transposed[0] is w and tg.core.mode.state.transposed[1].flags.c_contiguous
        np.testing.assert_array_equal(tg.core.mode.state.transposed[1], w.T)
        np.testing.assert_allclose(tg.linear(x, W).data, want, rtol=1e-13)
        np.testing.assert_allclose(tg.linear(x, other).data, want, rtol=1e-13)
        raise KeyError                                   # leaving on an error restores the plain product
    assert tg.core.mode.state.transposed == (None, None)


def test_a_layer_transposes_each_layers_recurrent_weight_for_its_own_steps(monkeypatch):
    seen = []
    real = tg.core.ops.transposed_once
    monkeypatch.setattr(tg.core.ops, "transposed_once", lambda w: seen.append(w) or real(w))
    lstm = tg.rnn.LSTM(3, 4, num_layers=2)
    lstm(np.ones((5, 2, 3)))
    assert len(seen) == 2 and seen[0] is lstm.weight_hh_l0.data and seen[1] is lstm.weight_hh_l1.data
    assert tg.core.mode.state.transposed == (None, None)


def _sigmoids_seen(monkeypatch):
    """Whether numpy's overflow setting was quiet (this thread's switch) at each sigmoid a layer computes."""
    seen, forward = [], tg.core.ops.Sigmoid.forward
    monkeypatch.setattr(tg.core.ops.Sigmoid, "forward",
                        staticmethod(lambda x: seen.append(tg.core.mode.state.quiet_overflow) or forward(x)))
    return seen


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_a_gated_layer_quiets_numpys_overflow_once_for_its_steps(kind, monkeypatch):
    """Gates far below -88 overflow e^-x inside the sigmoid: the gate is the exact 0, with no warning. The
    layer's steps run with numpy's overflow setting entered once (float32 and wider), then it is restored."""
    seen = _sigmoids_seen(monkeypatch)
    layer = getattr(tg.rnn, kind)(2, 3)
    layer.bias_ih_l0.data[:] = -1000.0
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = layer(np.ones((4, 1, 2), dtype=np.float32))
        outside = Tensor(np.array([-1000.0], dtype=np.float32)).sigmoid()     # an op outside a layer: quiet too
    assert seen[:-1] and all(seen[:-1]) and seen[-1] is False      # the layer's sigmoids, then the one outside
    assert np.isfinite(out.data).all() and outside.data[0] == 0.0
    assert np.geterr() == before and tg.core.mode.state.quiet_overflow is False
    gate = next(node for node in tape.graph(out) if node.op.name == "sigmoid")
    assert (gate.output.data == 0.0).all()
    seen.clear()
    getattr(tg.rnn, kind)(2, 3, dtype=np.float16)(np.ones((4, 1, 2), dtype=np.float16))
    assert seen and not any(seen)                                   # float16: each sigmoid its own setting

    def stop(*args):
        raise KeyError("stopped in the middle of the unroll")
    monkeypatch.setattr(tape, "move_value", stop)
    with pytest.raises(KeyError, match="stopped"):
        layer(np.ones((4, 1, 2), dtype=np.float32))
    assert tg.core.mode.state.quiet_overflow is False and np.geterr() == before


def test_the_quiet_setting_is_the_threads_own(monkeypatch):
    """A layer unrolling in one thread does not quiet a sigmoid computed in another."""
    import threading
    seen = _sigmoids_seen(monkeypatch)
    inside, leave = threading.Event(), threading.Event()
    real = tg.core.ops.exp_overflow_quiet

    def held():                                      # the layer's unroll, held open until the main thread is done
        with real():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=held)
    worker.start()
    try:
        assert inside.wait(10)
        Tensor(np.array([1.0], dtype=np.float32)).sigmoid()
    finally:
        leave.set()
        worker.join(10)
    assert seen == [False]


def test_an_exploding_relu_rnn_still_warns_of_its_overflow():
    """The plain RNN does not enter the quiet setting: a relu-RNN blowing up float32 warns as numpy does."""
    rnn = tg.rnn.RNN(1, 1, nonlinearity="relu")
    for w in rnn.parameters():
        w.data[:] = 3.0
    with pytest.warns(RuntimeWarning, match="overflow"):
        rnn(np.ones((100, 1, 1), dtype=np.float32))          # 3x per step: past float32 near t = 80
