"""A hand-written loop over a cell is a time-step loop: scopes t=<k> and names with the step, no extra code."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.teach.stepper import Stepper
from viz.view import build

NAMES = {tg.RNNCell: ("h", "a"), tg.LSTMCell: ("h", "c", "f", "i", "g", "o", "gates"),
         tg.GRUCell: ("h", "r", "z", "n", "gh")}


def run_loop(cls, T=3, layers=1, h=None):
    tg.manual_seed(0)
    cells = [cls(2 if k == 0 else 3, 3, dtype=np.float64) for k in range(layers)]
    xs = np.random.default_rng(0).normal(size=(T, 1, 2))
    states = [h] * layers
    for t in range(T):
        inp = xs[t]
        for k, cell in enumerate(cells):
            states[k] = cell(inp, states[k])
            inp = states[k][0] if cls is tg.LSTMCell else states[k]
    top = states[-1][0] if cls is tg.LSTMCell else states[-1]
    return (top ** 2).sum(), cells


@pytest.mark.parametrize("cls", list(NAMES))
def test_a_cell_loop_records_steps_and_names(cls):
    loss, (cell,) = run_loop(cls)
    nodes = tg.graph(loss)
    named = {n.name: n for n in nodes if n.name}
    for t in (1, 2, 3):
        for base in NAMES[cls]:
            node = named[f"{base}_{t}"]
            assert f"t={t}" in node.scope and node.scope[0] == cell.name
        assert any(x.name == f"x_{t}" for n in nodes for x in n.inputs)        # numpy x_t: named, not const
    assert not any(n.name == "h" or n.name == "a" for n in nodes)
    view = build(loss)
    assert view.steps == [1, 2, 3]
    rows = {w.name: w for w in view.weights}
    assert list(rows["weight_hh"].terms) == ["t=1", "t=2", "t=3"]


@pytest.mark.parametrize("cls", list(NAMES))
def test_stacked_cells_carry_their_layer(cls):
    loss, cells = run_loop(cls, T=2, layers=2)
    names = {n.name: n.scope_name for n in tg.graph(loss) if n.name}
    assert names["h_2"] == f"{cells[0].name}/t=2"
    assert names["h^(1)_2"] == f"{cells[1].name}/layer1/t=2"
    assert build(loss).steps == [1, 2]


@pytest.mark.parametrize("cls", list(NAMES))
def test_stacked_cells_name_their_weights_as_a_layers(cls):
    loss, cells = run_loop(cls, T=2, layers=2)
    assert [p.name for p in (cells[0].weight_ih, cells[1].weight_hh)] == ["weight_ih_l0", "weight_hh_l1"]
    rows = [w.name for w in build(loss).weights]
    assert len(rows) == len(set(rows)) == 8 and "bias_ih_l1" in rows     # every weight told apart


def test_a_cell_inside_a_module_keeps_its_path_name():
    class Two(tg.Module):
        def __init__(self):
            self.low, self.high = tg.RNNCell(2, 3), tg.RNNCell(3, 3)
    two, x = Two(), np.ones((1, 2))
    two.high(two.low(x))
    assert two.low.weight_ih.name == "low.weight_ih" and two.high.bias_hh.name == "high.bias_hh"


def initial_states(loss):
    """The names of the leaves the first steps read as their state (constants and learned ones)."""
    return sorted({t.name for n in tg.graph(loss) for t in n.inputs if t.node is None and t.name
                   and t.name.split("_")[0] in ("h", "c", "h^(1)", "c^(1)")})


@pytest.mark.parametrize("cls", list(NAMES))
def test_an_unnamed_zero_state_is_named_h_0_not_const(cls):
    zeros = lambda: tg.Tensor(np.zeros((1, 3)))
    h0 = (zeros(), zeros()) if cls is tg.LSTMCell else zeros()
    loss, _ = run_loop(cls, T=2, h=h0)
    assert initial_states(loss) == (["c_0", "h_0"] if cls is tg.LSTMCell else ["h_0"])
    assert all(t.name is None for t in (h0 if cls is tg.LSTMCell else (h0,)))   # the caller's tensors unchanged
    kinds = {v.kind for v in build(loss).vertices.values()}
    assert "const" not in kinds
    given = tg.Tensor(np.zeros((1, 3)), name="start")
    tg.RNNCell(2, 3)(np.ones((1, 2)), given)
    assert given.name == "start"                                               # a given name stays
    learned = tg.Tensor(np.zeros((1, 3)), requires_grad=True)                  # a learned h_0: named itself,
    out = tg.RNNCell(2, 3)(np.ones((1, 2)), learned)                           # and its gradient reaches it
    out.sum().backward()
    assert learned.name == "h_0" and learned.grad is not None


@pytest.mark.parametrize("cls", list(NAMES))
def test_one_zeros_tensor_for_every_role_is_drawn_in_each(cls):
    """h = c = zeros, and the same zeros as every layer's start: each role has its own name."""
    zeros = tg.Tensor(np.zeros((1, 3)))
    loss, _ = run_loop(cls, T=2, layers=2, h=(zeros, zeros) if cls is tg.LSTMCell else zeros)
    want = ["c^(1)_0", "c_0", "h^(1)_0", "h_0"] if cls is tg.LSTMCell else ["h^(1)_0", "h_0"]
    assert initial_states(loss) == want and zeros.name is None


def test_a_fresh_or_detached_state_starts_again_at_t1():
    cell = tg.RNNCell(2, 3)
    x = np.ones((1, 2))
    h = cell(x, cell(x))
    assert h.name == "h_2" and h.node.scope_name == "rnn_cell/t=2"
    assert cell(x, h.detach()).name == "h_1"                   # truncated BPTT: a new sequence
    assert cell(x, np.zeros((1, 3))).name == "h_1"
    other = tg.RNNCell(2, 3)
    assert other(x, h).name == "h_1"                           # a state made by another cell


def test_a_scope_the_caller_opened_keeps_its_numbering():
    cell = tg.GRUCell(2, 3)
    h = None
    for t in (1, 2):
        with tg.scope(f"t={t}"):
            h = cell(np.ones((1, 2)), h)
    assert h.name == "h_2" and h.node.scope_name == "t=2/gru_cell"


def test_the_stepper_tells_the_steps_and_calls_an_unnamed_loss_loss():
    loss, (cell,) = run_loop(tg.RNNCell)
    stepper = Stepper(loss, names=dict(cell.named_parameters()))
    steps = stepper.run()
    assert steps[0].label == "loss"
    whens = [a.when for s in steps for a in s.accumulations if a.name == "weight_hh"]
    assert whens == ["t=3", "t=2", "t=1"]


def test_an_unnamed_loss_is_loss_in_the_picture_too():
    loss, _ = run_loop(tg.RNNCell)
    view = build(loss)
    assert view.vertices[view.root].name == "loss"
    assert [v.name for v in view.vertices.values() if v.name == "loss"] == ["loss"]    # the root alone
    named, _ = run_loop(tg.RNNCell)
    named.name = "E"
    assert build(named).vertices[build(named).root].name == "E"


def test_a_consumed_graph_is_explained_without_advising_retain_graph():
    import viz
    loss, _ = run_loop(tg.RNNCell)
    loss.backward()
    with pytest.raises(tg.GraphError) as err:
        viz.player(loss)
    text = str(err.value)
    assert "run the forward pass again" in text and "without calling loss.backward() first" in text
    assert "retain_graph" not in text


def test_the_stepper_keeps_an_earlier_gradient_apart():
    loss, (cell,) = run_loop(tg.RNNCell)
    w = cell.weight_hh
    w.grad = np.ones(w.shape)
    steps = Stepper(loss, names=dict(cell.named_parameters())).run()
    accs = [a for s in steps for a in s.accumulations if a.name == "weight_hh"]
    walked = sum(a.contribution for a in accs)
    np.testing.assert_allclose(accs[-1].total, walked, rtol=1e-12)             # this walk's terms only
    np.testing.assert_allclose(accs[-1].grad, w.grad, rtol=1e-12)              # before + the sum
    np.testing.assert_array_equal(accs[-1].before, np.ones(w.shape))
    assert "this backward's sum = t=3 + t=2 + t=1" in accs[-1].text and "before this backward" in accs[-1].text


@pytest.mark.parametrize("model,kind", [("lstm", "lstm"), ("gru", "gru")])
def test_the_conventions_are_stated_where_the_gates_are_drawn(model, kind):
    import viz
    from viz.cli.teach import build
    from viz.view import CONVENTIONS
    E, names = build(model, 2)
    E.backward(keep_grads=True)
    source = viz.draw(E, detail="ops").source
    assert ("1 − zₜ" in source) == (kind == "gru") and ("C̃ₜ" in source) == (kind == "lstm")
    assert [typed for typed in ("z_t", "C̃_t", "c_t", "h_{") if typed in source] == []    # as math, not as typed
    E, names = build(model, 2)
    p = viz.player(E, names=names, check="none")
    assert p.data["conventions"] == {kind: CONVENTIONS[kind]}
    assert "conventionNote(s.scope" in p.html


def test_the_tutorial_and_readme_state_the_conventions():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    for doc in ("README.md", "docs/tutorial.md"):
        text = (root / doc).read_text(encoding="utf-8")
        assert "1 − z_t" in text and "C̃_t" in text, doc


def test_the_diagram_says_grad_held_an_earlier_gradient():
    import viz
    loss, (cell,) = run_loop(tg.RNNCell)
    cell.weight_hh.grad = np.ones(cell.weight_hh.shape)
    loss.backward(keep_grads=True)
    view = build(loss)
    assert any("weight_hh.grad also holds a gradient from before this backward" in n for n in view.notes)
    row = {w.name: w for w in view.weights}["weight_hh"]
    walked = cell.weight_hh.grad - 1
    assert row.total == pytest.approx(np.linalg.norm(walked), rel=1e-10)        # the table: this backward's sum
    assert "before this backward" in viz.draw(loss).source
