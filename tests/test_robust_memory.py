"""Memory stays flat and graphs are freed: training loops, drawing, stepping; deep unrolls without recursion."""
import gc
import os
import sys
import time
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import mode, tape


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def small_lstm_loss():
    tg.manual_seed(0)
    lstm = tg.LSTM(2, 3, dtype=np.float64)
    out, _ = lstm(Tensor(np.random.default_rng(0).standard_normal((4, 1, 2)), name="x"))
    return lstm, (out ** 2).sum()


def refs_to_graph(loss):
    """Weak references to the loss and every tensor its graph made (the leaves are kept by the model)."""
    return [weakref.ref(loss)] + [weakref.ref(out) for _, out in tape.recorded(loss)]


def alive(refs):
    return sum(r() is not None for r in refs)


# ---- a training loop -------------------------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads resident memory from /proc")
def test_10000_training_steps_keep_resident_memory_flat():
    """A small RNN trained for 10,000 steps: every step's graph is freed (weak references to a sample of
    losses die), and resident memory after the first 1,000 steps does not grow."""
    tg.manual_seed(0)
    net, head = tg.RNN(2, 4), tg.nn.Linear(4, 1)
    params = net.parameters() + head.parameters()
    opt = tg.optim.SGD(params, lr=0.05)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3, 2)).astype(np.float32))
    y = Tensor(rng.standard_normal((3, 1)).astype(np.float32))
    sampled, marks = [], []
    for step in range(10_000):
        out, _ = net(x)
        loss = tg.mse_loss(head(out[-1]), y)
        opt.zero_grad()
        loss.backward()
        tg.clip_grad_norm(params, 1.0)
        opt.step()
        if step % 500 == 0:
            sampled.append(weakref.ref(loss))
        if step % 1000 == 999:
            marks.append(rss())
    del loss, out
    assert alive(sampled) == 0                       # freed by reference counting, no collection needed
    grown = marks[-1] - marks[0]
    assert grown < 4 * 2 ** 20, f"resident memory grew {grown / 2 ** 20:.1f} MB over 9,000 steps: " \
                                f"{[round(m / 2 ** 20, 1) for m in marks]} MB"


# ---- drawing and stepping do not keep graphs alive ------------------------------------------------------

def test_stepping_keeps_the_graph_only_while_the_stepper_lives():
    lstm, loss = small_lstm_loss()
    refs = refs_to_graph(loss)
    stepper = tg.Stepper(loss, names=dict(lstm.named_parameters()))
    stepper.next()
    stepper.next()
    del loss
    assert alive(refs) == len(refs)                  # a stepper half way through holds its graph ...
    stepper.run()
    del stepper
    gc.disable()                                     # ... and nothing else does: no cycles, refcounting frees it
    try:
        assert alive(refs) == 0
    finally:
        gc.enable()
    assert all(p.grad is not None for p in lstm.parameters())


def test_a_stepper_dropped_half_way_frees_the_graph():
    _, loss = small_lstm_loss()
    refs = refs_to_graph(loss)
    stepper = tg.Stepper(loss)
    stepper.seek(10)
    del stepper, loss
    gc.collect()
    assert alive(refs) == 0


def test_drawing_does_not_keep_the_graph_alive():
    viz = pytest.importorskip("viz")
    pytest.importorskip("graphviz")
    _, loss = small_lstm_loss()
    loss.backward()
    refs = refs_to_graph(loss)
    picture = viz.draw(loss)
    source = picture.source
    del loss
    gc.disable()
    try:
        assert alive(refs) == 0                      # the Digraph holds text, not tensors
    finally:
        gc.enable()
    assert picture.source == source


def test_jacobian_and_finite_differences_do_not_keep_the_graph_alive():
    lstm, loss = small_lstm_loss()
    refs = refs_to_graph(loss)
    jac = tg.jacobian(loss, lstm.weight_hh_l0)
    fd = tg.stepper.finite_difference(loss, lstm.weight_hh_l0, index=(0, 0))
    np.testing.assert_allclose(jac[(0, 0)], fd, rtol=1e-6)
    del loss
    gc.collect()
    assert alive(refs) == 0


# ---- deep graphs -----------------------------------------------------------------------------------------

def numpy_rnn_grads(x, W_ih, W_hh, b, nonlinearity):
    """d (h_T^2).sum() / d (W_ih, W_hh, b) for a 1-layer RNN with batch 1, by hand (the reference)."""
    T, H = x.shape[0], W_hh.shape[0]
    hs = np.zeros((T + 1, H))
    for t in range(T):
        pre = x[t, 0] @ W_ih.T + hs[t] @ W_hh.T + b
        hs[t + 1] = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)
    dh, gW_ih, gW_hh, gb = 2 * hs[T], np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b)
    for t in range(T, 0, -1):
        da = dh * (1 - hs[t] ** 2) if nonlinearity == "tanh" else dh * (hs[t] > 0)
        gW_ih += np.outer(da, x[t - 1, 0])
        gW_hh += np.outer(da, hs[t - 1])
        gb += da
        dh = da @ W_hh
    return hs[T], gW_ih, gW_hh, gb


@pytest.mark.parametrize("nonlinearity", ["tanh"])
def test_a_100000_step_rnn_backpropagates_without_recursion_and_viz_elides_it(nonlinearity):
    """tinygrad_rnn.RNN (hidden 2) over 100,000 steps: ~600,000 nodes, far past the recursion limit.
    Gradients equal a hand-written BPTT; memory stays linear; freeing the graph does not recurse either;
    viz draws it with the middle steps elided."""
    T = 100_000
    assert sys.getrecursionlimit() < T
    tg.manual_seed(0)
    rnn = tg.RNN(1, 2, nonlinearity=nonlinearity, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((T, 1, 1))
    start = time.perf_counter()
    out, h_n = rnn(Tensor(x, name="x"))
    loss = (h_n ** 2).sum()
    loss.backward(keep_grads=False)                  # the lean walk: no per-edge gradients kept (see below)
    took = time.perf_counter() - start
    h_T, *want = numpy_rnn_grads(x, rnn.weight_ih_l0.data, rnn.weight_hh_l0.data,
                                 rnn.bias_ih_l0.data + rnn.bias_hh_l0.data, nonlinearity)
    np.testing.assert_allclose(h_n.data[0, 0], h_T, rtol=1e-10, atol=1e-12)
    for got, expect in zip([rnn.weight_ih_l0.grad, rnn.weight_hh_l0.grad, rnn.bias_ih_l0.grad], want):
        np.testing.assert_allclose(got, expect, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(rnn.bias_hh_l0.grad, rnn.bias_ih_l0.grad, rtol=1e-12)
    assert took < 120, f"forward + backward of 100,000 steps took {took:.0f} s"

    viz = pytest.importorskip("viz")
    pytest.importorskip("graphviz")
    picture = viz.draw(loss, detail="cells")
    assert "t=1" in picture.source and f"t={T}" in picture.source and "steps hidden" in picture.source
    assert len(picture.source) < 200_000                 # elided to a few steps, not 100,000 boxes
    refs = [weakref.ref(loss), weakref.ref(out)]
    del loss, out, h_n, picture
    gc.collect()
    assert alive(refs) == 0


def test_a_long_cell_loop_with_the_default_backward():
    """A loop over RNNCell (x_t constant), 20,000 steps: the default backward, which keeps every node's
    gradients for viz, stays linear here."""
    T = 20_000
    tg.manual_seed(1)
    cell = tg.RNNCell(1, 1, dtype=np.float64)
    xs = np.random.default_rng(1).standard_normal((T, 1, 1)) * 0.1
    h = None
    with mode.gc_paused():
        for t in range(T):
            h = cell(xs[t], h)
    loss = (h ** 2).sum()
    loss.backward()
    _, *want = numpy_rnn_grads(xs, cell.weight_ih.data, cell.weight_hh.data, cell.bias_ih.data + cell.bias_hh.data,
                               "tanh")
    np.testing.assert_allclose(cell.weight_hh.grad, want[1], rtol=1e-8, atol=1e-12)


def kept_gradient_bytes(T):
    tg.manual_seed(0)
    rnn = tg.RNN(1, 2, dtype=np.float64)
    _, h = rnn(Tensor(np.ones((T, 1, 1))))
    loss = h.sum()
    tracemalloc.start()                                  # numpy reports its arrays to tracemalloc
    before = tracemalloc.get_traced_memory()[0]
    loss.backward(keep_grads=True)                       # every edge's gradient kept: what viz draws
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return kept


def test_the_kept_gradients_of_a_layer_grow_linearly_with_its_length():
    """x_t = (x W_ih^T)[t] at every step: each slice's gradient is kept as the slice, not a (T, B, H) array."""
    assert kept_gradient_bytes(800) < 2.5 * kept_gradient_bytes(400)
