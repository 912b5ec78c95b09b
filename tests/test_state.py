"""State: grad mode, scopes and anomaly mode belong to one thread; a backward is all or nothing for .grad."""
import threading

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.core.tensor import apply


def in_other_thread(body, entered, leave):
    """Run body(entered, leave) in a thread that holds its state while the test thread works."""
    errors = []

    def run():
        try:
            body(entered, leave)
        except BaseException as err:                     # reported in the test thread
            errors.append(err)
            entered.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert entered.wait(10)
    return thread, errors


def test_no_grad_scope_and_anomaly_in_one_thread_do_not_reach_another():
    entered, leave, seen = threading.Event(), threading.Event(), {}

    def evaluate(entered, leave):
        with tg.no_grad(), tg.scope("eval"), tg.detect_anomaly():
            w = tg.Tensor(np.ones(2), requires_grad=True)
            seen["recorded"] = (w * 2).node is not None
            entered.set()
            assert leave.wait(10)
            seen["after"] = (tg.is_grad_enabled(), tg.current_scope())

    thread, errors = in_other_thread(evaluate, entered, leave)
    try:
        assert tg.is_grad_enabled() and tg.current_scope() == ""        # the other thread's switches are its own
        assert not tg.core.mode.state.anomaly
        w = tg.Tensor(np.ones(2), requires_grad=True)
        with tg.scope("train"):
            y = (w * 3).sum()
        assert y.node is not None and all(n.scope_name in ("train", "") for n in tg.graph(y))
        assert tg.graph(y)[0].scope_name == "train"
        y.backward()
        np.testing.assert_array_equal(w.grad, [3, 3])
    finally:
        leave.set()
        thread.join(10)
    assert not errors
    assert seen == {"recorded": False, "after": (False, "eval")}   # and ours never reached it either
    assert tg.is_grad_enabled() and tg.current_scope() == ""


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    barrier = threading.Barrier(2)

    def overlap():
        with tg.no_grad():
            barrier.wait(10)                             # both inside at once ...
        barrier.wait(10)                                 # ... the other leaves after this one did

    thread = threading.Thread(target=overlap)
    thread.start()
    barrier.wait(10)
    with tg.no_grad():
        barrier.wait(10)
    thread.join(10)
    assert tg.is_grad_enabled()


# ---- all or nothing -----------------------------------------------------------------------------------

@pytest.fixture
def failing_op():
    """An op whose backward raises (a custom op with a bug), registered only while the test runs."""
    class FailsInBackward(tg.core.ops.Op):
        name = "fails_in_backward_for_test"

        def forward(x):
            return x.copy(), None

        def vjp(g, saved, needs):
            raise RuntimeError("broken vjp")

    yield FailsInBackward
    tg.OPS.pop(FailsInBackward.name, None)


def graph_with_a_late_failure(op):
    """loss = sum(w * op(v[0:2]) + w * u): w and u get their gradients before the walk reaches op."""
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w", dtype=np.float64)
    u = tg.Tensor(np.array([3.0, 4.0]), requires_grad=True, name="u", dtype=np.float64)
    v = tg.Tensor(np.array([5.0, 6.0, 7.0]), requires_grad=True, name="v", dtype=np.float64)
    mid = (w * u).retain_grad()
    loss = (w * apply(op, v[0:2]) + mid).sum()
    return loss, (w, u, v), mid


@pytest.mark.parametrize("keep_grads", [True, False])
def test_a_backward_that_fails_midway_changes_no_grad(failing_op, keep_grads):
    loss, leaves, mid = graph_with_a_late_failure(failing_op)
    w, u, v = leaves
    w.grad, v.grad = np.array([10.0, 20.0]), np.array([1.0, 1.0, 1.0])
    old = {t.name: t.grad for t in leaves}
    copies = {name: None if g is None else g.copy() for name, g in old.items()}
    with pytest.raises(RuntimeError, match="broken vjp"):
        loss.backward(keep_grads=keep_grads)
    for t in leaves:
        assert t.grad is old[t.name]                     # the same array, with the same numbers
        np.testing.assert_array_equal(t.grad, copies[t.name])
    assert mid.grad is None                              # a retained gradient is put back too


def test_detect_anomaly_midway_changes_no_grad():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w", dtype=np.float64)
    x = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True, name="x", dtype=np.float64)
    w.grad = np.array([0.5, 0.5])
    before = w.grad
    with np.errstate(divide="ignore"):
        loss = (w * x.log().exp()).sum()                 # d log(x)/dx = 1/0 at x = 0: found after w's term
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError):
        loss.backward()
    assert w.grad is before and x.grad is None
    np.testing.assert_array_equal(w.grad, [0.5, 0.5])


def test_a_watched_walk_read_halfway_keeps_what_it_did_and_a_full_one_adds_once():
    """Closing a walk half-read is not a failure: the stepper's partial steps stay; then a full
    backward adds its terms on top, into a copy (the array the caller held is not written)."""
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, dtype=np.float64)
    x = tg.Tensor(np.array([3.0, 4.0]), requires_grad=True, dtype=np.float64)
    w.grad = held = np.array([1.0, 1.0])
    loss = (w[0:2] * x).sum()
    walk = tg.walk(loss, np.ones(()), retain_graph=True)
    for _ in range(2):                                   # sum, then mul: w[0:2] and x got their terms
        next(walk)
    walk.close()
    np.testing.assert_array_equal(x.grad, [1, 2])
    loss.backward(keep_grads=True)
    np.testing.assert_array_equal(w.grad, [1 + 3, 1 + 4])
    np.testing.assert_array_equal(held, [1, 1])


def test_scopes_nest_at_most_max_depth_and_a_refusal_leaves_the_scope_as_it_was():
    import contextlib
    from tinygrad_rnn.core.mode import MAX_SCOPE_DEPTH, current_scope
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_SCOPE_DEPTH - 1):
            stack.enter_context(tg.scope("a"))
        with pytest.raises(ValueError, match=f"at most {MAX_SCOPE_DEPTH} levels deep, this would be "
                                             f"{MAX_SCOPE_DEPTH + 1}"):
            stack.enter_context(tg.scope("b/c"))
        assert current_scope() == "/".join(["a"] * (MAX_SCOPE_DEPTH - 1))
        with tg.scope("last"):                     # the deepest allowed level still records
            y = tg.Tensor(np.ones(2), requires_grad=True) * 2
        assert y.node.scope[-2:] == ("a", "last") and len(y.node.scope) == MAX_SCOPE_DEPTH
    with pytest.raises(ValueError, match="this would be 20000"):
        tg.scope("/".join(["x"] * 20000)).__enter__()
    assert current_scope() == ""
