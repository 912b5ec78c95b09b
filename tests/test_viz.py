"""viz: the structure of the drawn graph, read from the generated DOT, against the engine's gradients."""
import re
import shutil

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.teach.seed import three_step_network

graphviz = pytest.importorskip("graphviz")
import viz
from viz.cli import draw as draw_cli
from viz.view import build, norm

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="graphviz's `dot` program is not installed")


# ---- reading DOT -----------------------------------------------------------------------------------

def attrs(line):
    """The attributes of one DOT statement (plain, quoted, and HTML <...> values)."""
    out, i = {}, line.index("[") + 1
    pattern = re.compile(r'\s*(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]<]+|<)')
    while True:
        m = pattern.match(line, i)
        if not m:
            return out
        key, value, i = m[1], m[2], m.end()
        if value == "<":                                   # an HTML label: up to the matching >
            depth, j = 1, i
            while depth:
                depth += {"<": 1, ">": -1}.get(line[j], 0)
                j += 1
            value, i = line[i:j - 1], j
        out[key] = value.strip('"')


def parse(source):
    nodes, edges = {}, []
    for line in source.splitlines():
        line = line.strip()
        m = re.match(r"^(\S+?)(?::\S+)? -> (\S+?)(?::\S+)? \[", line)
        if m:
            a = attrs(line)
            for end in ("headlabel", "taillabel"):  # an edge's number: at its head end, or its start if crowded
                if end in a:
                    a["label"] = a.pop(end)
            edges.append((m[1], m[2], a))
            continue
        m = re.match(r"^(\S+) \[", line)
        if m and m[1] not in ("graph", "node", "edge"):
            nodes[m[1]] = attrs(line)
    return nodes, edges


def clusters(source):
    return re.findall(r"subgraph (cluster_t\d+) \{", source)


def grad_on(node):
    m = re.search(r"∇ ([-+0-9.e]+)", node.get("label", ""))
    return float(m[1]) if m else None


def close(shown, exact):
    """A printed norm (3 significant digits) against the engine's value."""
    return abs(float(shown) - exact) <= 5e-3 * abs(exact) + 1e-12


# ---- models ----------------------------------------------------------------------------------------

def hand_rnn(T, backward=True):
    """A tanh RNN written with Tensor ops and scopes rnn/layer0/t=k."""
    rng = np.random.default_rng(1)
    W_x = tg.Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="W_x")
    W_s = tg.Tensor(rng.normal(size=(3, 3)) * 0.5, requires_grad=True, name="W_s")
    s = tg.Tensor(np.zeros((1, 3)), name="s_0")
    for t in range(1, T + 1):
        with tg.scope(f"rnn/layer0/t={t}"):
            x = tg.Tensor(rng.normal(size=(1, 2)), name=f"x_{t}")
            s = (x @ W_x + s @ W_s).tanh()
            s.name = f"s_{t}"
    loss = (s * s).sum()
    loss.name = "E"
    if backward:
        loss.backward(keep_grads=True)
    return loss, W_x, W_s


def layer_loss(kind, T, layers):
    loss, _ = draw_cli.build_loss(kind, T, layers)
    return loss


def uses_of(loss, leaf):
    """The engine's contribution along every use of `leaf`, in tape order."""
    return [n.input_grads[pos] for n in tg.graph(loss) for pos, t in enumerate(n.inputs) if t is leaf]


# ---- structure -------------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [1, 3, 5])
def test_one_cluster_per_time_step(T):
    loss, _, _ = hand_rnn(T)
    assert sorted(clusters(viz.draw(loss, detail="ops").source)) == sorted(f"cluster_t{t}" for t in range(1, T + 1))
    assert len(clusters(viz.draw(loss, detail="cells").source)) == T


def test_seed_weight_drawn_once_with_an_edge_per_use_summing_to_grad():
    E, named = three_step_network()
    E.backward(keep_grads=True)
    nodes, edges = parse(viz.draw(E, shared="edges").source)
    for name in ("W_x", "W_s"):
        W = named[name]
        vid = f"leaf_{name}"
        assert close(grad_on(nodes[vid]), norm(W.grad))                      # the node shows the total
        shown = sorted(float(a["label"]) for s, _, a in edges if s == vid)    # one edge per use, labelled
        exact = uses_of(E, W)
        assert len(shown) == 3 == len(exact)
        assert all(close(a, b) for a, b in zip(shown, sorted(norm(g) for g in exact)))
        np.testing.assert_allclose(sum(exact), W.grad)                       # the terms add up to .grad


def test_lstm_copies_per_step_and_table_total():
    loss = layer_loss("lstm", 9, 1)
    view = build(loss)
    assert view.shared == "copies"
    nodes, _ = parse(viz.draw(loss, layout="tb").source)                       # the steps the view draws
    params = {p.name: p for n in tg.graph(loss) for p in n.inputs if p.node is None and p.requires_grad}
    b = params["bias_hh_l0"]
    terms = dict(zip(range(1, 10), uses_of(loss, b)))
    per_step = {s: norm(g) for s, g in terms.items()}
    drawn = [vid for vid in nodes if vid.startswith("leaf_bias_hh_l0_t")]
    assert len(drawn) == len(view.steps) == 6                                # elided: 3 + 3 steps drawn
    for vid in drawn:
        assert close(grad_on(nodes[vid]), per_step[int(vid.rsplit("_t", 1)[1])])
    rows = {w.name: w for w in view.weights}
    assert close(rows["bias_hh_l0"].total, norm(b.grad)) and close(rows["bias_hh_l0"].grad, norm(b.grad))
    w = params["weight_hh_l0"]                  # the leaf itself is used at every step (linear, no transpose)
    w_terms = dict(zip(range(1, 10), uses_of(loss, w)))
    assert len(uses_of(loss, w)) == 9
    w_drawn = [vid for vid in nodes if vid.startswith("leaf_weight_hh_l0_t")]
    assert len(w_drawn) == 6
    for vid in w_drawn:
        assert close(grad_on(nodes[vid]), norm(w_terms[int(vid.rsplit("_t", 1)[1])]))
    assert close(rows["weight_hh_l0"].total, norm(w.grad)) and close(rows["weight_hh_l0"].grad, norm(w.grad))
    np.testing.assert_allclose(sum(w_terms.values()), w.grad, rtol=1e-12)
    assert not any(name.endswith("ᵀ") and "weight_hh" in name for name in rows)
    table = re.search(r'ID="weights">(.*?)</TABLE></TD>', viz.draw(loss, detail="ops", max_steps=6).source, re.S)
    assert table and "bias<SUB>hh,l0</SUB>" in table[1]
    assert view.columns == ["t=1", "t=2", "t=3", "t=4…6", "t=7", "t=8", "t=9"]
    assert close(rows["bias_hh_l0"].terms["t=4…6"], norm(terms[4] + terms[5] + terms[6]))


def test_edge_labels_equal_the_engines_gradients():
    for loss in (layer_loss("lstm", 4, 2), layer_loss("gru", 3, 1), hand_rnn(3)[0]):
        view = build(loss)
        by_index = {n.index: n for n in tg.graph(loss)}
        _, edges = parse(viz.draw(loss).source)
        labels = {a["id"]: float(a["label"]) for _, _, a in edges if "label" in a}
        assert labels
        for e in view.edges:
            total = sum(np.asarray(by_index[i].input_grads[pos], dtype=np.float64) for i, pos in e.tape)
            if e.id in labels:
                assert close(labels[e.id], norm(total)), e.id


def test_a_plus_a_is_two_edges():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (x + x).sum()
    y.backward(keep_grads=True)
    _, edges = parse(viz.draw(y).source)
    assert len([e for e in edges if e[0] == "leaf_x"]) == 2


def test_an_op_with_a_constant_operand_names_its_other_operand():
    z = tg.Tensor([0.25, 0.5], requires_grad=True, name="z_3")
    h = tg.Tensor([1.0, 2.0], requires_grad=True, name="h^(1)_2")
    c = tg.Tensor([1.0, 2.0], requires_grad=True, name="cost")
    y = ((1 - z) + (h * 2.0) + (z + h) ** 2 + (c - 3.0)).sum()
    y.backward(keep_grads=True)
    labels = {v.label for v in build(y).vertices.values() if v.kind == "op"}
    assert {"1 − z₃", "h⁽¹⁾₂ × 2", "cost − 3", "^ 2"} <= labels   # an unnamed operand: the op and its constant


def test_values_print_a_matrix_row_per_line_and_whole_numbers():
    W = tg.Tensor(np.arange(9.0).reshape(3, 3) / 7, requires_grad=True, name="W_s")
    big = tg.Tensor(np.linspace(-1, 1, 40).reshape(2, 20), requires_grad=True, name="W_x")
    cube = tg.Tensor(np.ones((2, 1, 2)), requires_grad=True, name="h_0")      # numpy's blank line between blocks
    y = ((W * 2.0).sum() + big.sum() + cube.sum()) * 1.0
    y.backward(keep_grads=True)
    nodes, _ = parse(viz.draw(y, values=True).source)
    labels = " ".join(a.get("label", "") for a in nodes.values())
    assert "\\n" not in labels and "[[0.   0.14 0.29]" in labels and "[0.43 0.57 0.71]" in labels
    assert "" not in build(y, values=True).vertices["leaf_h_0"].value.split("\n")
    rows = build(y, values=True).vertices["leaf_W_x"].value.split("\n")
    assert 1 < len(rows) <= 4 and all(len(r) <= 36 for r in rows)
    assert all(re.fullmatch(r"[\[\] .…\d-]*", r) and not r.endswith((".", "-")) for r in rows)   # no cut number


def test_a_two_step_layers_outputs_are_gathered_after_its_steps():
    """The stack of h_1, h_2 reads two neighbouring steps, as a running sum of losses does, but it is the
    layer's output: drawn after the steps (a stub in each), not inside t=2 with an edge from t=1."""
    tg.manual_seed(0)
    lstm = tg.LSTM(2, 3, dtype=np.float64)
    out, _ = lstm(np.random.default_rng(0).uniform(-1, 1, (2, 1, 2)))
    loss = (out[-1] * out[-1]).sum()
    loss.backward(keep_grads=True)
    view = build(loss, detail="ops")
    stack = next(v for v in view.vertices.values() if v.label == "stack")
    assert stack.step is None and stack.after
    stubs = [v.step for v in view.vertices.values() if v.kind == "stub"]
    assert sorted(stubs) == [1, 2]


def test_long_sequence_elides_the_middle():
    loss = layer_loss("rnn", 50, 1)
    source = viz.draw(loss, detail="ops").source
    nodes, _ = parse(source)
    assert len(clusters(source)) == 6
    assert "elided" in nodes and "t=4 … t=47" in nodes["elided"]["label"]
    assert "44 steps hidden" in nodes["elided"]["label"]
    assert len(nodes) < 150
    cells = viz.draw(layer_loss("lstm", 1000, 3), detail="cells", layout="tb").source
    assert len(clusters(cells)) == 8 and "t=5 … t=996" in cells
    fitted = viz.draw(layer_loss("lstm", 1000, 3), detail="cells").source     # auto: fewer steps to fit a slide
    assert len(clusters(fitted)) == viz.FEW_STEPS and "t=3 … t=998" in fitted


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_the_hidden_steps_hand_their_outputs_on_without_a_port_dot_does_not_know():
    """A loss that reads every output: the elided block's states go to the output stack as plain edges."""
    import subprocess
    lstm = tg.LSTM(2, 3)
    out, _ = lstm(np.random.default_rng(0).standard_normal((8, 1, 2)))
    loss = (out ** 2).sum()
    loss.backward(keep_grads=True)
    source = viz.draw(loss, detail="ops", layout="lr").source
    assert re.search(r"\belided(:\w+:\w)? -> \w+", source)           # the block's edges are drawn
    said = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=True).stderr
    assert b"unrecognized" not in said, said.decode()


def test_two_chunks_of_a_stacked_layer_have_no_padded_steps():
    """A step box says "1 of 2 sequences (padded)" only for a PackedSequence: the (layers, B, H) h_n stack a
    chunk hands on has as many rows as layers, not sequences."""
    lstm = tg.LSTM(2, 3, num_layers=2)
    x = np.random.default_rng(0).standard_normal((4, 1, 2))
    _, state = lstm(x[:2])
    out, _ = lstm(x[2:], state)
    loss = (out ** 2).sum()
    loss.backward(keep_grads=True)
    source = viz.draw(loss, detail="ops", layout="lr").source
    assert "t=4" in source and "padded" not in source


def test_a_picture_drawn_after_an_optimizer_step_says_the_weights_changed():
    lstm = tg.LSTM(2, 3)
    out, _ = lstm(np.ones((3, 1, 2), dtype=np.float32))
    loss = (out ** 2).sum()
    loss.backward(keep_grads=True)                      # the values are kept: drawing needs no recompute
    assert not any("changed after" in n for n in build(loss, values=True).notes)
    tg.optim.SGD(lstm.parameters(), lr=0.1).step()
    notes = build(loss, values=True).notes
    assert any(n.startswith("weight_ih_l0, bias_ih_l0, weight_hh_l0, bias_hh_l0 changed after this graph was "
                            "recorded") for n in notes), notes
    assert "changed after this graph was recorded" in viz.draw(loss, values=True).source


def test_cells_detail_one_box_per_layer_and_step():
    loss = layer_loss("gru", 4, 2)
    nodes, edges = parse(viz.draw(loss, detail="cells").source)
    cells = [v for v, a in nodes.items() if a.get("class", "").startswith("cell")]
    assert len(cells) == 8
    through = [a for _, _, a in edges if a.get("class") == "edge-through"]   # layer 0's h_t into layer 1 at t
    assert len(through) == 4


def test_before_backward_the_picture_says_so():
    loss, _, _ = hand_rnn(3, backward=False)
    source = viz.draw(loss).source
    assert "backward has not run" in source and "∇" not in source
    assert all("label" not in a for _, _, a in parse(source)[1])
    loss, _, _ = hand_rnn(3, backward=False)
    loss.backward()                                                          # the lean default
    assert "kept no per-edge gradients" in viz.draw(loss).source
    loss, _, _ = hand_rnn(3)
    quiet = viz.draw(loss, grads=False).source                               # asked for no gradients
    assert "∇" not in quiet and "backward" not in quiet


def test_ids_and_classes_are_stable_and_reach_the_svg():
    E, _ = three_step_network()
    E.backward(keep_grads=True)
    first, second = viz.draw(E).source, viz.draw(E).source
    assert first == second
    nodes, edges = parse(first)
    ids = [a["id"] for a in nodes.values()] + [a["id"] for _, _, a in edges if a.get("style") != "invis"]
    assert len(ids) == len(set(ids)) and all("class" in a for a in nodes.values())
    if HAS_DOT:
        svg = viz.draw(E).pipe(format="svg").decode()
        for vid in ids:
            assert f'id="{vid}"' in svg
        assert 'class="node op t1"' in svg and 'class="cluster step"' in svg


# ---- files and formats -----------------------------------------------------------------------------

MAGIC = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph"}


@needs_dot
@pytest.mark.parametrize("fmt", sorted(MAGIC))
def test_every_format_renders(tmp_path, fmt):
    loss = layer_loss("lstm", 3, 1)
    path = viz.save(loss, tmp_path / f"lstm.{fmt}")
    with open(path, "rb") as f:
        assert f.read().startswith(MAGIC[fmt])


@needs_dot
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "seed"])
@pytest.mark.parametrize("detail", ["ops", "cells"])
def test_models_lay_out(kind, detail):
    for T, layers in ((2, 1), (5, 3), (9, 2)):
        if kind == "seed" and layers > 2:
            continue
        viz.draw(layer_loss(kind, T, layers), detail=detail).pipe(format="svg")


def test_without_dot_the_source_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))                           # no `dot` anywhere
    loss, _, _ = hand_rnn(2)
    with pytest.raises(viz.DotNotFound, match="apt-get install graphviz"):
        viz.save(loss, tmp_path / "rnn.png")
    assert (tmp_path / "rnn.dot").read_text().startswith("digraph")


def test_unknown_suffix_and_bad_options():
    loss, _, _ = hand_rnn(2)
    with pytest.raises(ValueError, match=".svg"):
        viz.save(loss, "graph.jpeg")
    with pytest.raises(ValueError, match="detail"):
        viz.draw(loss, detail="gates")
    with pytest.raises(ValueError, match="leaf"):
        viz.draw(tg.Tensor([1.0], requires_grad=True))


# ---- the command -----------------------------------------------------------------------------------

@needs_dot
def test_draw_command(tmp_path, capsys):
    from viz.cli import main
    out = tmp_path / "gru.svg"
    assert main(["draw", "--model", "gru", "--steps", "12", "--layers", "2", "--out", str(out)]) == 0
    assert out.read_text().count('class="cluster step"') == 4                # 8 do not fit a slide: 4 do
    assert "wrote" in capsys.readouterr().out
    assert main(["draw", "--model", "seed", "--no-grads", "--out", str(tmp_path / "seed.dot")]) == 0
    assert "∇" not in (tmp_path / "seed.dot").read_text()                  # the forward graph only
    with pytest.raises(SystemExit):
        main(["draw", "--model", "lstm", "--steps", "0"])


def test_hover_text_gives_each_vertex_and_edge_its_exact_gradient():
    import xml.etree.ElementTree as ET
    E, named = three_step_network()
    E.backward(keep_grads=True)
    svg = viz.pipe(viz.draw(E, shared="edges"), "svg").decode("utf-8")
    root = ET.fromstring(svg[svg.index("<svg"):])
    tips = [a.get("{http://www.w3.org/1999/xlink}title").split("\n") for a in root.iter("{http://www.w3.org/2000/svg}a")]
    W_s = named["W_s"]
    tip = next(t for t in tips if t[0] == "W_s")
    assert float(tip[1].removeprefix("gradient norm ")) == pytest.approx(np.linalg.norm(W_s.grad), rel=1e-9)
    first = [float(x) for x in tip[2].removeprefix("gradient [").rstrip("]").split(", ")[:4]]
    assert first == pytest.approx(W_s.grad.ravel()[:4], rel=1e-7)
    assert tip[3] == "shape 3×3"
    edges = [t for t in tips if " → " in t[0]]
    assert len(edges) >= 6 and all(t[1].startswith(("gradient norm", "no gradient")) for t in edges)


def test_a_packed_batch_says_at_each_step_which_sequences_it_did_not_reach():
    tg.manual_seed(0)
    lstm = tg.nn.LSTM(2, 3)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(4, 3, 2)))
    out, (h, c) = lstm(tg.pack_padded_sequence(x, [4, 2, 1]))
    loss = (h ** 2).sum()
    loss.backward(keep_grads=True)
    labels = {c.step: c.label for c in build(loss, "ops").clusters.values() if c.kind == "step"}
    assert labels == {1: "t=1", 2: "t=2: 2 of 3 sequences (1 padded, not reached)",
                      3: "t=3: 1 of 3 sequences (2 padded, not reached)",
                      4: "t=4: 1 of 3 sequences (2 padded, not reached)"}
    assert "t=4: 1 of 3 sequences (2 padded, not reached)" in viz.draw(loss).source


def test_both_directions_name_their_input_projection_alike():
    tg.manual_seed(0)
    gru = tg.nn.GRU(2, 3, bidirectional=True)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2)), name="x")
    out, h = gru(x)
    loss = (out ** 2).sum()
    loss.backward(keep_grads=True)
    labels = {v.label for v in build(loss, "ops").vertices.values()}
    assert {"x @ weight_ih_l0ᵀ + bias_ih_l0", "x @ weight_ih_l0_reverseᵀ + bias_ih_l0_reverse"} <= labels
    assert not [label for label in labels if re.fullmatch(r"linear #\d+", label)]


def test_a_legend_of_edges_that_all_carried_the_same_norm_shows_it_once():
    """x * y summed: both edges carry ‖1 ⊙ y‖ = ‖1 ⊙ x‖; a log scale from 1.73 to 1.73 would repeat it five times."""
    x = tg.Tensor(np.ones(3), requires_grad=True, name="x")
    y = tg.Tensor(np.ones(3), requires_grad=True, name="y")
    loss = (x * y).sum()
    loss.backward(keep_grads=True)
    legend = re.search(r'ID="legend">(.*?)</TD></TR></TABLE>', viz.draw(loss).source)[1]
    assert "1.73 on every coloured edge" in legend and legend.count("1.73") == 1
