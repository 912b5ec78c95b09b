"""viz.draw(loss, folded=True): the loop rolled up. Its numbers against the engine (.grad) and the stepper's
per-step terms, its size against the number of steps, the command's flag and the refusals."""
import re
import shutil

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.teach.examples import example_network
from tinygrad_rnn.teach.stepper import Stepper
from tinygrad_rnn.teach.steps import edge_terms

pytest.importorskip("graphviz")
import viz
from viz.dot import fmt
from viz.folded import SPARK_WIDTH, fold, sparkline

from test_viz import parse

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` program is not installed")
NETWORKS = [(m, layers) for m in ("seed", "rnn", "lstm", "gru") for layers in (1, 2)]


def folded(model, steps, layers):
    """(the example's loss after backward(keep_grads=True), its Folded view, the example)."""
    example = example_network(model, steps, layers)
    example.loss.backward(keep_grads=True)
    return example.loss, fold(example.loss), example


def stepper_terms(model, steps, layers):
    """{weight name: {step: ‖term‖}} from a Stepper's walk of the same network (its own record, not viz's)."""
    example = example_network(model, steps, layers)
    stepper = Stepper(example.loss, names=example.names)
    stepper.run()
    out = {}
    for name, terms in edge_terms(stepper.steps, list(example.names)).items():
        by_step = {}
        for s, term in terms:
            if s is not None:
                by_step[s] = by_step.get(s, 0) + np.asarray(term, dtype=np.float64)
        out[name] = {s: float(np.linalg.norm(a)) for s, a in by_step.items()}
    return out


@pytest.mark.parametrize("model,layers", NETWORKS)
def test_weights_show_grad_norm_and_the_spread_of_their_step_terms(model, layers):
    T = 5
    loss, f, example = folded(model, T, layers)
    expected = stepper_terms(model, T, layers)
    by_name = {w.name: w for w in f.weights}
    assert set(by_name) == {n for n, terms in expected.items() if len(terms) > 1}
    source = viz.draw(loss, folded=True).source
    nodes, _ = parse(source)
    for name, w in by_name.items():
        grad = float(np.linalg.norm(example.names[name].grad.astype(np.float64)))
        assert w.total == pytest.approx(grad, rel=1e-12) and w.grad == pytest.approx(grad, rel=1e-12)
        assert sorted(w.terms) == sorted(expected[name]) == list(range(1, T + 1))
        for s, value in expected[name].items():
            assert w.terms[s] == pytest.approx(value, rel=1e-10, abs=1e-15)
        (s_lo, lo), (s_hi, hi) = min(expected[name].items(), key=lambda kv: kv[1]), max(
            expected[name].items(), key=lambda kv: kv[1])
        label = nodes[w.vertex]["label"]
        assert f"∇ {fmt(grad)}" in label
        assert f"{fmt(lo)} (t={s_lo})" in label and f"{fmt(hi)} (t={s_hi})" in label
        assert sparkline(expected[name]) in label


@pytest.mark.parametrize("model,layers", NETWORKS)
def test_size_does_not_grow_with_the_steps(model, layers):
    sizes = []
    for T in (3, 200):
        loss, f, _ = folded(model, T, layers)
        nodes, edges = parse(viz.draw(loss, folded=True).source)
        sizes.append((len(nodes), len(edges), len(f.vertices)))
        assert {loop[3] for loop in f.loops.values()} == {T}
        assert len(f.loops) == (4 if (model, layers) == ("seed", 2) else layers)   # the seed's: 2 layers, O_t, E
    assert sizes[0] == sizes[1]


@needs_dot
def test_svg_node_count_is_the_same_for_3_and_200_steps():
    counts = []
    for T in (3, 200):
        loss, _, _ = folded("lstm", T, 2)
        svg = viz.pipe(viz.draw(loss, folded=True), "svg").decode()
        counts.append(svg.count('class="node'))
    assert counts[0] == counts[1] > 40


def test_the_state_loops_back_labelled_with_the_steps():
    loss, f, _ = folded("lstm", 12, 1)
    loops = {e.caption for e in f.edges if e.loop and e.caption}
    assert loops == {"h_t: ×T=12 steps", "c_t: ×T=12 steps"}
    names = {v.name for v in f.vertices.values() if v.cluster}
    assert {"h_t", "c_t", "gates_t", "xW_t"} <= names and not any(re.search(r"_\d+$", n) for n in names
                                                                  if n not in ("", "y_12", "E_12"))
    source = viz.draw(loss, folded=True).source
    assert "×T=12 steps" in source and 'dir=back' in source
    assert [e.caption for e in f.edges if f.vertices[e.src].label == "h_0"] == ["t=1"]


def test_the_seed_read_out_and_loss_stay_outside_the_loop():
    loss, f, _ = folded("seed", 3, 1)
    (cid, (outer, first, last, ran)), = f.loops.items()
    assert (outer, first, last, ran) == ("seed", 1, 3, 3)
    inside = sorted(v.label for v in f.vertices.values() if v.cluster[:1] == (cid,))
    assert inside == ["+", "@", "@", "tanh"]
    outside = {v.name for v in f.vertices.values() if v.kind == "op" and v.cluster[:1] != (cid,)}
    assert {"y_3", "E_3"} <= outside
    inputs = {v.label: v.note for v in f.vertices.values() if v.kind == "input"}
    assert inputs == {"x_t": "(t=1..3)", "s_0": "", "d_3": ""}


def test_bidirectional_folds_each_direction_backwards_in_time_for_the_reverse_one():
    tg.manual_seed(0)
    net = tg.LSTM(2, 3, 1, bidirectional=True, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).uniform(-1, 1, (6, 1, 2)), name="x")
    out, _ = net(x)
    loss = (out * out).sum()
    loss.backward(keep_grads=True)
    f = fold(loss)
    assert sorted(outer for outer, *_ in f.loops.values()) == ["lstm/layer0", "lstm/layer0_reverse"]
    captions = sorted(e.caption for e in f.edges if e.loop and e.caption)
    assert captions == ["c_t: ×T=6 steps", "c_t: ×T=6 steps, backwards in t",
                        "h_t: ×T=6 steps", "h_t: ×T=6 steps, backwards in t"]
    params = dict(net.named_parameters())
    assert len(f.weights) == len(params) == 8
    for w in f.weights:
        assert w.total == pytest.approx(np.linalg.norm(params[w.name].grad), rel=1e-12)


def test_sparkline_is_bounded_and_reads_on_a_log_scale():
    assert sparkline({1: 1e-7, 2: 1e-4, 3: 1.0}) == "▁▄█"       # 1e-4 is 3/7 of the way up in log
    assert sparkline({1: 0.0, 2: 1.0, 3: 1.0}) == "·██"
    assert len(sparkline({t: 1.0 / t for t in range(1, 501)})) == SPARK_WIDTH


def test_graph_without_time_steps_is_a_clear_error():
    W = tg.Tensor(np.eye(2), requires_grad=True, name="W")
    loss = (tg.Tensor(np.ones((1, 2)), name="x") @ W).sum()
    with pytest.raises(ValueError, match=r"no time steps to fold.*scope `t=<k>`"):
        viz.draw(loss, folded=True)
    with pytest.raises(ValueError, match="not produced by recorded ops"):
        viz.draw(W, folded=True)
    with pytest.raises(TypeError, match="folded must be True or False"):
        viz.draw(loss, folded="yes")


def test_options_of_the_unrolled_picture_are_refused_by_name():
    loss, _, _ = folded("seed", 3, 1)
    with pytest.raises(ValueError, match="layout, columns apply to the unrolled picture only"):
        viz.draw(loss, folded=True, layout="tb", columns=2)


def test_without_backward_the_fold_says_so():
    example = example_network("rnn", 4, 1)
    source = viz.draw(example.loss, folded=True).source
    assert "backward has not run" in source and "∇" not in source.split("backward has not run")[1]


@needs_dot
def test_draw_command_folded(tmp_path, capsys):
    from viz.cli import main
    out = tmp_path / "lstm.svg"
    assert main(["draw", "--model", "lstm", "--steps", "12", "--folded", "--out", str(out)]) == 0
    svg = out.read_text()
    assert 'id="folded"' in svg and "×T=12 steps" in svg and 'class="cluster loop"' in svg
    assert main(["draw", "--model", "seed", "--folded", "--out", str(tmp_path / "seed.dot")]) == 0
    source = (tmp_path / "seed.dot").read_text()
    assert "×T=3 steps" in source and "fold_leaf_W_s " in source and "cluster_t" not in source
    capsys.readouterr()
    assert main(["draw", "--model", "seed", "--folded", "--layout", "tb", "--out", str(tmp_path / "x.svg")]) == 2
    assert "layout applies to the unrolled picture only" in capsys.readouterr().err


def test_a_weights_hover_text_gives_its_grad_and_each_steps_term():
    loss, f, example = folded("lstm", 5, 1)
    expected = stepper_terms("lstm", 5, 1)
    nodes, _ = parse(viz.draw(loss, folded=True).source)
    for w in f.weights:
        tip = nodes[w.vertex]["tooltip"].split("\\n")
        assert tip[0] == w.name
        grad = np.linalg.norm(example.names[w.name].grad.astype(np.float64))
        assert float(tip[1].removeprefix("gradient norm ")) == pytest.approx(grad, rel=1e-9)
        shown = dict(item.split(" ") for item in tip[3].removeprefix("its terms' norms: ").split(", "))
        assert {int(k[2:]): float(v) for k, v in shown.items()} == pytest.approx(expected[w.name], rel=1e-3, abs=1e-12)
        assert tip[4].startswith("shape ")
