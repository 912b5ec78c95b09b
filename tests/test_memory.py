"""Deep graphs backpropagate without recursion, and memory is given back."""
import gc
import os
import sys
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import tape


def test_100k_step_chain_backpropagates_without_recursion():
    """x_{k+1} = x_k * 0.9999 + c, 100,000 times: 200,000 nodes, far past Python's recursion limit."""
    n = 100_000
    assert sys.getrecursionlimit() < n
    x0 = Tensor(np.array([0.5, -0.25]), requires_grad=True)
    c = Tensor(np.array([1e-3, 2e-3]), requires_grad=True)
    x = x0
    for _ in range(n):
        x = x * 0.9999 + c
    x.sum().backward(keep_grads=False)
    np.testing.assert_allclose(x0.grad, 0.9999 ** n, rtol=1e-9)                      # d x_n / d x_0
    np.testing.assert_allclose(c.grad, (1 - 0.9999 ** n) / (1 - 0.9999), rtol=1e-9)  # sum of a geometric series
    del x                                   # freeing a 200,000-deep chain must not overflow the C stack either
    gc.collect()


def test_100k_tanh_chain_through_the_walk_generator():
    x0 = Tensor(np.array(0.3), requires_grad=True)
    x = x0
    for _ in range(100_000):
        x = x.tanh()
    steps = 0
    for step in tg.walk(x, np.ones(()), keep_grads=False):
        steps += 1
    assert steps == 100_000 and step.node.inputs[0] is x0
    assert 0 < x0.grad < 1


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _iteration(W, U, b, xs):
    """One forward + backward of a small unrolled RNN: about 60 nodes, ~1 MB of arrays per graph."""
    h = Tensor(np.zeros((32, 64)))
    for t in range(len(xs)):
        with tg.scope(f"t={t}"):
            h = (xs[t] @ W + h @ U + b).tanh()
    loss = tg.mse_loss(h, np.zeros((32, 64)))
    loss.backward()
    return loss


def test_memory_is_released_over_1000_iterations():
    rng = np.random.default_rng(0)
    W, U = (Tensor(rng.standard_normal((64, 64)) * 0.1, requires_grad=True) for _ in range(2))
    b = Tensor(np.zeros(64), requires_grad=True)
    xs = Tensor(rng.standard_normal((8, 32, 64)))
    for _ in range(50):                                   # warm up allocators and caches
        _iteration(W, U, b, xs)
    gc.collect()
    start = _rss()
    for _ in range(1000):
        _iteration(W, U, b, xs)
        W.grad = U.grad = b.grad = None
    gc.collect()
    grown = _rss() - start
    # a graph kept alive per iteration would hold ~1 MB each, 1 GB in total; allow 20 MB of allocator noise
    assert grown < 20 * 2 ** 20, f"resident memory grew by {grown / 2 ** 20:.1f} MB over 1000 iterations"


def test_graph_is_freed_by_reference_counting_alone():
    """No reference cycles: with the cyclic collector off, dropping the loss frees every intermediate."""
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    gc.disable()
    try:
        h = x
        kept = []
        for _ in range(5):
            h = (h @ x).tanh()
            kept.append(weakref.ref(h))
        loss = h.sum()
        loss.backward(retain_graph=True)
        tg.graph(loss)                                  # neither graph() nor the walk's steps make cycles
        steps = list(tg.walk(loss, np.ones(())))
        del h, loss, steps
        assert all(r() is None for r in kept)
    finally:
        gc.enable()


def test_backward_frees_saved_values_unless_retained():
    x = Tensor(np.ones(4), requires_grad=True)
    y = (x.exp() / x.sigmoid()).softmax()
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    assert all(n.saved is not tape.FREED for n in tg.graph(loss))
    loss.backward()
    assert all(n.saved is tape.FREED for n in tg.graph(loss))


def test_a_layer_holds_each_state_once():
    """The states h_t a layer's steps save are the rows of its output: no second copy, and an edit of the
    output, which would change them, is refused. Stacking rows of an array someone may edit still copies."""
    x = Tensor(np.random.default_rng(0).standard_normal((6, 2, 3)), requires_grad=True)
    for layer in (tg.nn.RNN(3, 4), tg.nn.LSTM(3, 4)):
        out, _ = layer(x)
        states = [n for n in tg.graph(out) if n.name and n.name.startswith("h_") and n.op.name == "tanh"]
        assert all(np.shares_memory(n.saved, out.data) for n in states)
        assert len(states) == (6 if isinstance(layer, tg.nn.RNN) else 0)   # an LSTM's h_t is a product
        assert not out.data.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            out.data[0] += 1
    out, _ = tg.nn.RNN(3, 4, bidirectional=True)(x)      # the two directions joined: a new array, editable
    assert out.data.flags.writeable and not any(
        np.shares_memory(n.saved, out.data) for n in tg.graph(out) if n.op.name == "tanh")
    rows = tg.stack(list(x))
    assert not np.shares_memory(rows.data, x.data) and x.data.flags.writeable


def test_only_a_layers_own_rows_stack_without_a_copy():
    """Views that start where the rows start but are not the rows (transposed, B == H) are stacked as what they
    are; one step's h_n is not its output; with no graph, nothing is saved and the output stays editable."""
    layer = tg.nn.RNN(2, 3)
    out, h_n = layer(Tensor(np.random.default_rng(2).standard_normal((4, 3, 2))))
    flipped = tg.stack([o.T for o in out])
    np.testing.assert_array_equal(flipped.data, out.data.transpose(0, 2, 1))
    out, h_n = layer(Tensor(np.ones((1, 3, 2))))                      # T = 1
    assert not np.shares_memory(out.data, h_n.data) and h_n.data.flags.writeable
    with tg.no_grad():
        out, _ = layer(Tensor(np.ones((4, 3, 2))))
    assert out.data.flags.writeable


def test_a_layer_output_is_not_a_copy_of_its_states():
    """Peak memory of an RNN's forward (traced by numpy's allocations): the input projection, the output
    and a few steps' temporaries, not a second copy of all T states."""
    import tracemalloc
    T, B, H = 200, 16, 32
    layer = tg.nn.RNN(H, H, dtype=np.float64)
    x = Tensor(np.random.default_rng(1).standard_normal((T, B, H)))
    one = T * B * H * 8                                   # bytes of one (T, B, H) array
    tracemalloc.start()
    out, _ = layer(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2.7 * one, peak / one                  # 2.5; with a stacked copy of the states 3.5
    del out
