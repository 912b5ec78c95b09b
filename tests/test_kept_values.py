"""The forward keeps only what some backward needs; node.inputs gives the other values back, recomputed."""
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import tape
from tinygrad_rnn.teach.stepper import Stepper, jacobian


def leaves(seed=0):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True, name="x")
    w = Tensor(rng.standard_normal((3, 4)), requires_grad=True, name="W")
    return x, w


def test_an_intermediate_nobody_holds_is_freed_during_the_forward():
    x, w = leaves()
    m = x * w                                            # mul saves x and W; tanh saves its output, not m
    value = weakref.ref(m.data)
    y = m.tanh().sum()
    del m
    assert value() is None
    y.backward()
    assert np.allclose(x.grad, (1 - np.tanh(x.data * w.data) ** 2) * w.data)


def test_node_inputs_recompute_a_freed_value_with_its_name():
    x, w = leaves()
    m = x * w
    m.name = "m"
    y = m.tanh()
    del m
    (m_again,) = y.node.inputs
    assert np.array_equal(m_again.data, x.data * w.data)
    assert m_again.name == "m" and m_again.node.op.name == "mul" and m_again.node.inputs == (x, w)
    assert y.node.inputs[0] is m_again                   # made once, then kept by the graph


def test_a_tensor_you_hold_is_the_input_itself():
    x, w = leaves()
    h = (x * w).tanh()
    y = (h * h).sum()
    assert y.node.inputs[0].node.inputs == (h, h)
    assert tape.graph(y)[1].output is h


def test_the_graph_can_be_drawn_after_a_plain_backward():
    x, w = leaves()
    y = ((x * w).tanh() * 2.0).sum()
    y.backward()                                         # lean: the saved values are freed
    values = [n.output.data for n in tape.graph(y)]
    assert np.array_equal(values[1], np.tanh(x.data * w.data))
    assert np.isclose(values[-1], y.data)


def lstm_loss(T=6):
    tg.manual_seed(0)
    lstm = tg.LSTM(5, 7)                                 # float32: a different product layout shows in the bits
    out, _ = lstm(Tensor(np.random.default_rng(1).standard_normal((T, 3, 5)).astype(np.float32)))
    return lstm, (out * out).sum()


def test_recomputed_values_of_a_layer_are_the_forward_bit_for_bit():
    """The layer's W_hh products used a contiguous copy of W_hh^T: recomputing them does too."""
    _, loss = lstm_loss()
    saved_outputs = [n for n in tape.graph(loss) if n.op.name in ("sigmoid", "tanh")]
    assert len(saved_outputs) == 6 * 5
    for node in saved_outputs:                           # these ops saved their own output in the forward
        assert np.array_equal(node.output.data, node.saved)


def test_an_optimizer_step_before_drawing_is_a_clear_error():
    lstm, loss = lstm_loss()
    loss.backward()
    tg.optim.SGD(lstm.parameters(), lr=0.1).step()
    with pytest.raises(tape.GraphError, match="changed.*optimizer step.*after this graph was recorded"):
        tape.graph(loss)


def test_a_graph_drawn_before_the_step_keeps_its_values():
    lstm, loss = lstm_loss()
    loss.backward(keep_grads=True)                       # a watched walk: the graph keeps every value
    before = [n.output.data for n in tape.graph(loss)]
    tg.optim.SGD(lstm.parameters(), lr=0.1).step()
    assert all(np.array_equal(a, n.output.data) for a, n in zip(before, tape.graph(loss)))


def held_bytes_per_step(T, B=32, H=64):
    tg.manual_seed(0)
    lstm = tg.LSTM(H, H, dtype=np.float64)
    x = Tensor(np.random.default_rng(0).standard_normal((T, B, H)))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    out, _ = lstm(x)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / T / (B * H * 8)


def test_an_lstm_forward_holds_what_its_backward_needs_and_little_more():
    """Per step the backward needs i, f, g, o, c, tanh(c) and h: 7 arrays of (B, H), as a hand-written BPTT
    keeps, and the layer returns the output (one more). Holding every intermediate as well (the input
    projection, the gates before their nonlinearities, f*c, i*g) was 18."""
    assert held_bytes_per_step(50) < 9.5


def test_a_weight_edited_by_hand_is_caught_and_nothing_wrong_is_kept():
    lstm, loss = lstm_loss()
    loss.backward()
    w = lstm.weight_hh_l0
    w.data = w.data - 0.1 * w.grad                      # a hand-written SGD step: no optimizer told the tape
    for _ in range(2):                                   # the second look fails as well: no wrong value was kept
        with pytest.raises(tg.ValuesChanged, match="changed since"):
            tape.graph(loss)


def test_a_retained_graph_walks_again_after_a_step_with_or_without_watching():
    lstm, loss = lstm_loss()
    loss.backward(retain_graph=True)
    first = lstm.weight_hh_l0.grad.copy()
    optimizer = tg.optim.SGD(lstm.parameters(), lr=0.1)
    optimizer.step()
    for keep_grads in (False, True):                     # the gradients need the saved values, not the freed ones
        optimizer.zero_grad()
        loss.backward(retain_graph=True, keep_grads=keep_grads)
        np.testing.assert_allclose(lstm.weight_hh_l0.grad, first, rtol=1e-5)
    optimizer.zero_grad()
    with tg.detect_anomaly():
        loss.backward(retain_graph=True)
    np.testing.assert_allclose(lstm.weight_hh_l0.grad, first, rtol=1e-5)
    np.testing.assert_allclose(jacobian(loss, lstm.weight_hh_l0), first, rtol=1e-5)
    with pytest.raises(tg.ValuesChanged, match="before changing its weights"):
        Stepper(loss)                                    # it shows every value: it says why it cannot


def test_an_op_outside_the_table_keeps_its_inputs_and_recomputes_nothing():
    class Square:                                        # duck-typed: its inputs are kept for the walk's shape check
        name = "square"

        def forward(x):
            return x * x, x

        def vjp(g, x, needs):
            return (2 * g * x,)

    lstm, _ = lstm_loss()
    out, _ = lstm(Tensor(np.ones((6, 3, 5), np.float32)))
    loss = tg.core.tensor.apply(Square, out).sum()
    loss.backward()
    assert loss.node.args[0]._inputs == (out,)
    assert out.node._inputs is None                      # the layer's values were not recomputed


def test_values_a_vjp_saved_are_taken_from_there_not_recomputed():
    _, loss = lstm_loss()
    nodes = tape.graph(loss)                             # read before any backward: every vjp's values are there
    for node in nodes:
        if node.op.name in ("sigmoid", "tanh"):          # they saved their own output
            assert node.output.data is node.saved
        if node.op.name == "mul":                        # a product saved its factors, its inputs' values
            assert all(t.data is s for t, s in zip(node.inputs, node.saved))
