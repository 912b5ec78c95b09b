"""The stepper walks the same tape as backward(): same .grad, every step kept, rewind without recomputing."""
import numpy as np
import pytest

from tinygrad_rnn import GraphError, Tensor, scope
from tinygrad_rnn.teach.stepper import Stepper, compact, edge_contributions, jacobian


def seed_net(rng, T=3, n_in=2, n_h=3, n_out=2, phi="tanh"):
    """s_t = phi(x_t W_x + s_{t-1} W_s), y_T = s_T W_y, E = 1/2 |y_T - d|^2, built from Tensor ops."""
    W_x = Tensor(rng.standard_normal((n_in, n_h)), requires_grad=True, name="W_x", dtype=np.float64)
    W_s = Tensor(rng.standard_normal((n_h, n_h)) * 0.6, requires_grad=True, name="W_s", dtype=np.float64)
    W_y = Tensor(rng.standard_normal((n_h, n_out)), requires_grad=True, name="W_y", dtype=np.float64)
    s = Tensor(rng.standard_normal((1, n_h)) * 0.3, name="s_0", dtype=np.float64)
    states = []
    for t in range(1, T + 1):
        with scope(f"seed/t={t}"):
            x = Tensor(rng.standard_normal((1, n_in)), name=f"x_{t}", dtype=np.float64)
            s = getattr(x @ W_x + s @ W_s, phi)()
            s.name = f"s_{t}"
            states.append(s)
    y = s @ W_y
    y.name = "y_3"
    E = ((y - Tensor(rng.standard_normal((1, n_out)), dtype=np.float64)) ** 2).sum() * 0.5
    E.name = "E_3"
    return E, {"W_x": W_x, "W_s": W_s, "W_y": W_y}, states


def output_each_step_net(rng, T=4):
    """Every s_t feeds both the loss (through y_t) and s_{t+1}: its gradient is summed from two uses."""
    W_s = Tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True, name="W_s", dtype=np.float64)
    W_y = Tensor(rng.standard_normal((3, 1)), requires_grad=True, name="W_y", dtype=np.float64)
    s, loss, states = Tensor(rng.standard_normal((1, 3)), dtype=np.float64), None, []
    for t in range(1, T + 1):
        with scope(f"t={t}"):
            s = (s @ W_s).tanh()
            s.name = f"s_{t}"
            states.append(s)
            e = (s @ W_y).sum()
        loss = e if loss is None else loss + e
    return loss, {"W_s": W_s, "W_y": W_y}, states


def test_running_the_stepper_is_backward(rng):
    E1, p1, _ = seed_net(np.random.default_rng(1))
    E1.backward(keep_grads=True)
    E2, p2, _ = seed_net(np.random.default_rng(1))
    st = Stepper(E2)
    steps = st.run()
    assert st.done and len(steps) == st.total == len(st)
    for name in p1:
        assert np.array_equal(p1[name].grad, p2[name].grad)          # identical, not just close
        assert np.array_equal(st.leaf_grads()[name], p2[name].grad)
    # the steps are the walk's order: decreasing creation number, root first
    assert steps[0].output is E2
    assert [s.node.index for s in steps] == sorted((s.node.index for s in steps), reverse=True)


def test_step_contents(rng):
    E, _p, states = seed_net(rng)
    st = Stepper(E)
    step = next(s for s in st if s.label == "s_2")
    assert step.op == "tanh" and step.name == "s_2" and step.shape == (1, 3)
    assert step.scope == "seed/t=2" and step.time == "t=2"
    assert "tanh" in step.rule and r"\tanh" in step.latex
    assert step.grad is step.node.grad
    assert len(step.inputs) == 1 and step.inputs[0].kind == "node"
    assert step.inputs[0].grad is step.node.input_grads[0]
    np.testing.assert_allclose(step.inputs[0].grad, step.grad * (1 - states[1].data ** 2))
    text = step.describe()
    assert "tanh -> s_2  shape (1, 3)" in text and "1 - tanh(x)^2" in text
    assert step.inputs[0].name == "x_2 @ W_x + s_1 @ W_s"                 # unnamed: an expression of names


def test_shared_weight_accumulation_is_called_out(rng):
    E, p, _ = seed_net(rng)
    st = Stepper(E)
    accs = [a for s in st.run() for a in s.accumulations if a.name == "W_s"]
    assert [a.when for a in accs] == ["t=3", "t=2", "t=1"]
    assert [a.use for a in accs] == [1, 2, 3] and all(a.uses == 3 and a.shared for a in accs)
    assert accs[1].text.startswith("W_s += contribution from t=2")
    assert "W_s.grad = t=3 + t=2" in accs[1].text
    np.testing.assert_allclose(sum(a.contribution for a in accs), p["W_s"].grad)
    np.testing.assert_array_equal(accs[-1].total, p["W_s"].grad)
    (w_y,) = [a for s in st.steps for a in s.accumulations if a.name == "W_y"]
    assert not w_y.shared and w_y.text == "W_y += contribution from y_3"
    assert "** W_s += contribution from t=2" in "\n".join(s.describe() for s in st.steps)


def test_leaf_snapshots_follow_the_walk(rng):
    E, p, _ = seed_net(rng)
    st = Stepper(E)
    assert st.leaf_grads() == {"W_x": None, "W_s": None, "W_y": None}
    running = {n: None for n in p}
    for step in st:
        for a in step.accumulations:
            assert a.kind == "leaf"
            running[a.name] = a.contribution if running[a.name] is None else running[a.name] + a.contribution
        for n in p:
            if running[n] is None:
                assert step.leaf_grads[n] is None
            else:
                np.testing.assert_allclose(step.leaf_grads[n], running[n])
    assert st.leaf_grads(-1) == {"W_x": None, "W_s": None, "W_y": None}


def test_rewind_does_not_recompute(rng):
    E, p, _ = seed_net(rng)
    st = Stepper(E)
    assert st.current is None and st.prev() is None
    a, b, c = st.next(), st.next(), st.next()
    assert (a.index, b.index, c.index) == (0, 1, 2) and len(st.steps) == 3
    assert st.prev() is b and st.prev() is a and st.prev() is None and st.position == -1
    assert st.next() is a and len(st.steps) == 3                    # replayed from the record
    last = st.seek(-1)
    assert last.index == st.total - 1 and st.done
    grads = {n: t.grad.copy() for n, t in p.items()}
    assert st.seek(1) is b and st[2] is c and st.position == 1
    st.rewind()
    assert st.position == -1 and list(st)[0] is a  # noqa: RUF015   iterating replays the kept steps, to the end
    for n, t in p.items():                                          # nothing ran twice
        np.testing.assert_array_equal(t.grad, grads[n])
    assert st.next() is None                                        # at the end
    with pytest.raises(IndexError):
        st.seek(st.total)


def test_upstream_gradient_summed_from_two_uses(rng):
    loss, _p, states = output_each_step_net(rng)
    st = Stepper(loss)
    steps = st.run()
    s2 = next(s for s in steps if s.label == "s_2")
    assert len(s2.grad_parts) == 2                                   # from y_2's path and from s_3
    np.testing.assert_allclose(sum(part.grad for part in s2.grad_parts), s2.grad)
    senders = {part.from_step for part in s2.grad_parts}
    assert all(steps[i].index < s2.index for i in senders)
    assert "summed from 2 uses" in s2.describe()
    accs = [a for s in steps for a in s.accumulations if a.tensor is states[1]]
    assert [a.kind for a in accs] == ["node", "node"] and [a.when for a in accs] == ["t=3", "(s_2 @ W_y)"]
    np.testing.assert_array_equal(accs[-1].total, s2.grad)
    assert accs[1].text == "s_2 += contribution from (s_2 @ W_y) (2nd of 2 uses; ∂loss/∂s_2 = t=3 + (s_2 @ W_y))"
    assert steps[0].label == "loss" and "upstream  ∂loss/∂loss = 1" in steps[0].describe()   # the unnamed loss
    assert steps[0].grad_parts[0].from_label == "start"


def test_same_leaf_twice_in_one_node():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a", dtype=np.float64)
    y = (a * a).sum()
    st = Stepper(y)
    st.run()
    mul = next(s for s in st.steps if s.op == "mul")
    assert [x.use for x in mul.accumulations] == [1, 2]
    np.testing.assert_array_equal(mul.accumulations[-1].total, a.grad)
    np.testing.assert_array_equal(a.grad, [2.0, 4.0])


def test_unnamed_leaves_and_given_names(rng):
    w = Tensor(rng.standard_normal((2, 2)), requires_grad=True)
    v = Tensor(rng.standard_normal((2, 2)), requires_grad=True)
    y = (w @ v).sum()
    assert list(Stepper(y, retain_graph=True).leaves) == ["leaf0", "leaf1"]
    assert list(Stepper(y, names={"weight": w, "bias": v}).leaves) == ["weight", "bias"]


def test_freed_graph_is_an_error(rng):
    E, _, _ = seed_net(rng)
    E.backward(keep_grads=True)
    with pytest.raises(GraphError):
        Stepper(E).run()


def test_compact():
    assert compact(np.float64(0.000123456)) == "0.000123"
    assert compact(np.arange(10.0)) == "[0, 1, 2, 3, 4, 5, ...] (10,)"
    assert compact(np.array([[1.0, 2.5], [-3.0, 0.0]])) == "[[1, 2.5], [-3, 0]]"


def test_labels(rng):
    E, _p, _ = seed_net(rng)
    st = Stepper(E)
    labels = [s.label for s in st.run()]
    assert labels[:4] == ["E_3", "sum((y_3 - const) ** 2)", "(y_3 - const) ** 2", "y_3 - const"]
    a = Tensor(rng.standard_normal((2, 6)), requires_grad=True, name="gates")
    y = (a[..., 3:].sigmoid() * a[:, :3]).sum()
    labels = [s.label for s in Stepper(y).run()]
    assert labels[0] == "loss"                                             # the unnamed root
    assert labels[1:] == ["sigmoid(gates[..., 3:]) * gates[:, :3]", "gates[:, :3]", "sigmoid(gates[..., 3:])",
                          "gates[..., 3:]"]


def test_jacobian_of_a_function_and_of_intermediates(rng):
    W = rng.standard_normal((3, 3))
    x = rng.standard_normal((1, 3))
    J = jacobian(lambda x: (x @ Tensor(W)).tanh(), x)
    a = x @ W
    expected = (W * (1 - np.tanh(a) ** 2)).T.reshape(1, 3, 1, 3)        # J[0,i,0,j] = W[j,i] tanh'(a_i)
    np.testing.assert_allclose(J, expected)

    E, p, states = seed_net(rng)
    before = {n: t.grad for n, t in p.items()}
    J31, J32 = jacobian(states[2], [states[0], states[1]])
    assert J31.shape == (1, 3, 1, 3)
    np.testing.assert_allclose(J31[0, :, 0, :], J32[0, :, 0, :] @ jacobian(states[1], states[0])[0, :, 0, :])
    Jw = jacobian(E, p["W_s"])                                         # a leaf: d E / d W_s
    E.backward(keep_grads=True)
    np.testing.assert_allclose(Jw, p["W_s"].grad)
    assert all(b is None for b in before.values())


def test_jacobian_matches_finite_differences(rng):
    W = rng.standard_normal((4, 3))

    def f(x):
        return (x @ Tensor(W)).sigmoid() * x[:, :3]

    x = rng.standard_normal((2, 4))
    J = jacobian(f, x)
    eps, num = 1e-6, np.zeros((2, 3, 2, 4))
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        num[(...,) + idx] = (f(Tensor(up)).data - f(Tensor(down)).data) / (2 * eps)
    np.testing.assert_allclose(J, num, atol=1e-8)


def test_edge_contributions(rng):
    E, p, _ = seed_net(rng)
    terms = edge_contributions(E, p["W_x"])
    assert [when for when, _ in terms] == ["t=3", "t=2", "t=1"]
    assert p["W_x"].grad is None
    E.backward(keep_grads=True)
    np.testing.assert_allclose(sum(c for _, c in terms), p["W_x"].grad)


def test_stepper_over_a_recurrent_layer():
    rnn = pytest.importorskip("tinygrad_rnn.rnn")
    from tinygrad_rnn import nn
    from tinygrad_rnn.core import rng
    rng.manual_seed(0)
    layer = rnn.RNN(3, 4, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _h_n = layer(x)
    loss = (out * out).sum()
    st = Stepper(loss, names=dict(layer.named_parameters()), retain_graph=True)
    steps = st.run()
    w_hh = layer.weight_hh_l0                  # used by linear(h_{t-1}, W_hh, b_hh) at every step: 5 edges
    per_step = [a for s in steps for a in s.accumulations if a.name == "weight_hh_l0"]
    assert all(a.tensor is w_hh and a.kind == "leaf" for a in per_step)
    assert [a.when for a in per_step] == [f"t={t}" for t in range(5, 0, -1)]
    assert per_step[2].text == \
        "weight_hh_l0 += contribution from t=3 (3rd of 5 uses; weight_hh_l0.grad = t=5 + t=4 + t=3)"
    assert per_step[4].text.endswith("(5th of 5 uses; weight_hh_l0.grad = t=5 + t=4 + ... + t=1)")
    np.testing.assert_allclose(sum(a.contribution for a in per_step), per_step[-1].total)
    np.testing.assert_allclose(per_step[-1].total, w_hh.grad)
    fused = steps[4].describe()                # a_5 = linear(h_4, W_hh, b_hh, add=xW_5): the sum is inside the op
    assert "linear -> a_5" in fused and "-> xW_5 (input 3)" in fused and "-> h_4 (input 0)" in fused
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()
    loss.backward(keep_grads=True)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, grads[n])
    assert isinstance(layer, nn.Module)


def test_finite_differences_check_every_step(rng):
    from tinygrad_rnn.teach.stepper import finite_difference, replay
    E, p, states = seed_net(rng)
    assert replay(E, {}) == pytest.approx(E.item())
    st = Stepper(E, retain_graph=True)
    for step in st.run():                                   # the gradient arriving at every node
        np.testing.assert_allclose(finite_difference(E, step.output), step.grad, atol=1e-8, rtol=1e-6)
    for w in p.values():                                    # and every leaf's .grad
        np.testing.assert_allclose(finite_difference(E, w), w.grad, atol=1e-8, rtol=1e-6)
    assert finite_difference(E, states[0], index=(0, 1)) == pytest.approx(states[0].node.grad[0, 1], rel=1e-6)
    with pytest.raises(ValueError, match="one element"):
        finite_difference(states[2], states[0])


def test_finite_differences_through_an_lstm_in_float32():
    rnn = pytest.importorskip("tinygrad_rnn.rnn")
    from tinygrad_rnn.core import rng as trng
    from tinygrad_rnn.teach.stepper import finite_difference
    trng.manual_seed(1)
    lstm = rnn.LSTM(2, 3)                                   # float32 parameters: the replay runs in float64
    out, _ = lstm(np.random.default_rng(1).standard_normal((3, 1, 2)).astype(np.float32))
    loss = (out * out).sum()
    st = Stepper(loss, retain_graph=True)
    c2 = next(s for s in st.run() if s.label == "c_2")
    np.testing.assert_allclose(finite_difference(loss, c2.output, eps=1e-4), c2.grad, rtol=1e-3, atol=1e-5)
