"""The HTML player: one self-contained file whose embedded steps are the stepper's, number for number."""
import importlib
import json
import re

import numpy as np
import pytest

pytest.importorskip("graphviz")

from tinygrad_rnn import Tensor, scope
from tinygrad_rnn.teach.stepper import Stepper, norm
import viz
from viz import TooLarge
from viz.cli import main
from viz.player import FULL, HEAT, VALUES, player, summary
from viz.cli.teach import build


def page_data(html):
    m = re.search(r'<script type="application/json" id="player-data">(.*?)</script>', html, re.DOTALL)
    assert m, "the step data is not embedded"
    return json.loads(m.group(1))


def first_values(a):
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    return flat if flat.size <= FULL else flat[:VALUES]


@pytest.fixture(scope="module")
def seed_page(tmp_path_factory):
    path = tmp_path_factory.mktemp("player") / "seed.html"
    E, names = build("seed", 3)
    p = player(E, path, names=names)
    return p, path.read_text(encoding="utf-8"), names


def test_the_file_is_self_contained(seed_page):
    p, html, _ = seed_page
    assert html == p.html and html.startswith("<!DOCTYPE html>")
    # nothing is fetched: no remote src/href, no <link>, no @import or url(...) in styles
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"<link\b", html, re.IGNORECASE)
    assert "@import" not in html and not re.search(r"url\(", html)
    assert not re.search(r"<script[^>]*\bsrc=", html, re.IGNORECASE)
    assert "<svg" in html and 'id="tape"' in html          # the graph is inline
    assert "{{" not in html.replace("{{}", "")               # every placeholder was filled


def test_embedded_steps_are_the_steppers(seed_page):
    p, html, _names = seed_page
    data = page_data(html)
    E, names2 = build("seed", 3)
    reference = Stepper(E, names=names2)
    steps = reference.run()
    assert data["total"] == len(data["steps"]) == reference.total == len(p) == 17
    for got, step in zip(data["steps"], steps):
        assert (got["i"], got["op"], got["label"], got["rule"]) == (step.index, step.op, step.label, step.rule)
        assert got["shape"] == list(step.shape) and got["time"] == (step.time or "")
        assert got["grad"]["norm"] == pytest.approx(norm(step.grad), rel=1e-12)
        np.testing.assert_allclose(got["grad"]["values"], first_values(step.grad), rtol=1e-5)
        assert len(got["inputs"]) == len(step.inputs)
        for e_got, e in zip(got["inputs"], step.inputs):
            assert (e_got["pos"], e_got["name"], e_got["kind"]) == (e.position, e.name, e.kind)
            if e.grad is None:
                assert e_got["grad"] is None
            else:
                assert e_got["grad"]["norm"] == pytest.approx(norm(e.grad), rel=1e-12)
                np.testing.assert_allclose(e_got["grad"]["values"], first_values(e.grad), rtol=1e-5)
        assert [(a["name"], a["when"], a["use"], a["uses"]) for a in got["accs"]] == \
            [(a.name, a.when, a.use, a.uses) for a in step.accumulations]
    w_s = [(a["when"], a["use"], a["uses"]) for s in data["steps"] for a in s["accs"] if a["name"] == "W_s"]
    assert w_s == [("t=3", 1, 3), ("t=2", 2, 3), ("t=1", 3, 3)]


def test_running_the_player_is_backward(seed_page):
    _p, html, names = seed_page
    E, fresh = build("seed", 3)
    E.backward(keep_grads=True)
    data = page_data(html)
    for leaf in data["leaves"]:
        assert np.array_equal(names[leaf["name"]].grad, fresh[leaf["name"]].grad)
        assert leaf["grad"]["norm"] == pytest.approx(norm(fresh[leaf["name"]].grad), rel=1e-12)
        assert leaf["uses"] == (1 if leaf["name"] == "W_y" else 3)


def test_every_step_and_edge_has_its_place_in_the_svg(seed_page):
    _, html, _ = seed_page
    data = page_data(html)
    ids = set(re.findall(r'<g id="([^"]+)"', html))
    assert all(v in ids for v in data["step_vertex"])          # every step highlights a drawn vertex
    assert data["step_vertex"][0] == next(v for v, info in data["vertices"].items() if info["label"] == "E_3")
    assert set(data["edges"]) <= ids and set(data["vertices"]) <= ids
    for e in data["edges"].values():                            # events in walk order, norms as drawn
        assert [ev[0] for ev in e["events"]] == sorted(ev[0] for ev in e["events"])
    w_s = [e for e in data["edges"].values() if data["vertices"].get(e["src"], {}).get("label") == "W_s"]
    assert len(w_s) == 3                                         # one edge per use (from W_s's copy in its step)


def test_the_pictures_table_of_terms_is_left_to_the_walk(seed_page):
    """The player's picture has the legend but not viz.draw's table of every per-step term: the leaves panel
    shows each term when the walk reaches it (and the quiz asks which one is smallest)."""
    p, html, _ = seed_page
    (page_svg,) = [svg for svg in re.findall(r"<svg.*?</svg>", html, re.S) if 'class="graph tape' in svg]
    assert "gradient along an edge" in page_svg and "one term per step" not in page_svg
    E, _ = build("seed", 3)
    E.backward(keep_grads=True)
    assert "one term per step" in viz.pipe(viz.draw(E), "svg").decode("utf-8")


def test_strip_holds_dE_ds_t(seed_page):
    p, html, _ = seed_page
    data = page_data(html)
    (row,) = data["strip"]
    assert row["name"] == "s" and [c["t"] for c in row["cells"]] == [1, 2, 3]
    by_label = {s.label: s for s in p.stepper.steps}
    for cell in row["cells"]:
        step = by_label[cell["label"]]
        # s_t's one use sends dE/ds_t back (complete: no other use), then the walk visits s_t itself
        assert cell["events"][-1] == [step.index, pytest.approx(norm(step.grad), rel=1e-12), 1]
        assert [ev[2] for ev in cell["events"]] == [1, 1]
        assert cell["events"][0][0] < step.index and cell["events"][0][1] == pytest.approx(cell["events"][1][1])


def test_finite_differences_agree(seed_page):
    _, html, _ = seed_page
    data = page_data(html)
    assert data["check"] == "all"
    for item in data["steps"] + data["leaves"]:
        fd = item["fd"]
        assert fd and fd["ok"] and fd["rows"], item.get("label", item.get("name"))
        for row in fd["rows"]:
            assert row["fd"] == pytest.approx(row["bp"], rel=1e-5, abs=1e-9)


def test_big_arrays_are_summarised(tmp_path):
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((40, 50)), requires_grad=True, name="W")
    x = Tensor(rng.standard_normal((3, 40)), name="x")
    with scope("t=1"):
        h = (x @ W).tanh()
    loss = (h * h).sum()
    p = player(loss, tmp_path / "big.html", check="leaves", check_elements=2)
    leaf = p.data["leaves"][0]
    assert leaf["grad"]["shape"] == [40, 50] and len(leaf["grad"]["values"]) == VALUES
    assert len(summary(np.arange(VALUES + 1.0))["values"]) == VALUES + 1      # never all but one entry
    assert summary(np.arange(FULL, dtype=float).reshape(6, -1))["values"] == list(range(FULL))   # small: all
    assert len(summary(np.arange(FULL + 1.0))["values"]) == VALUES
    assert leaf["grad"]["heat"]["rows"] == HEAT[0] and leaf["grad"]["heat"]["cols"] == HEAT[1]
    assert len(leaf["grad"]["heat"]["data"]) == HEAT[0] * HEAT[1] and leaf["grad"]["heat"]["of"] == [40, 50]
    assert leaf["grad"]["norm"] == pytest.approx(norm(W.grad))
    assert len(leaf["fd"]["rows"]) == 2 and leaf["fd"]["ok"]
    assert all(s["fd"] is None for s in p.data["steps"])


def test_models_and_check_plans(tmp_path):
    E, names = build("lstm", 2)
    p = player(E, None, names=names, check="none")
    assert p.path is None and len(p) == Stepper(build("lstm", 2)[0]).total
    assert all(s["fd"] is None for s in p.data["steps"]) and all(leaf["fd"] is None for leaf in p.data["leaves"])
    assert {row["name"] for row in p.data["strip"]} == {"h", "c"}
    E, names = build("gru", 3)
    p = player(E, None, names=names, check="states")
    checked = {s["label"] for s in p.data["steps"] if s["fd"]}
    assert checked == {"E_3", "h_1", "h_2", "h_3"}
    assert all(s["fd"]["ok"] for s in p.data["steps"] if s["fd"])
    with pytest.raises(ValueError, match="check must be"):
        player(build("seed", 3)[0], check="some")


def test_jupyter_shows_it_inline(seed_page):
    p, _html, _ = seed_page
    shown = p._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "&lt;svg" in shown and "<script" not in shown
    assert repr(p).startswith("<viz.Player: 17 steps")


def test_without_dot_the_page_still_plays(tmp_path, monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])
    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    E, names = build("seed", 3)
    p = player(E, tmp_path / "nodot.html", names=names, check="none")
    assert "graphviz&#x27;s `dot` program was not found" in p.html or "program was not found" in p.html
    assert "<svg" not in p.html.split('id="graph">')[1].split("</section>")[0]
    assert len(page_data(p.html)["steps"]) == 17


def test_cli_writes_the_player(tmp_path, capsys):
    out = tmp_path / "lstm.html"
    assert main(["player", "--model", "lstm", "--steps", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "backward steps" in text
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["total"] == len(data["steps"]) > 0
    assert main(["player", "--model", "seed", "--out", str(tmp_path / "no" / "such" / "dir.html")]) == 2
    assert "error" in capsys.readouterr().err


def test_json_survives_odd_names(tmp_path):
    W = Tensor(np.ones((2, 2)), requires_grad=True, name="</script><b>W")
    loss = (W * W).sum()
    p = player(loss, None)
    assert "</script><b>" not in p.html.split('id="player-data">')[1].split("</script>")[0]
    assert page_data(p.html)["leaves"][0]["name"] == "</script><b>W"
    assert importlib.import_module("viz.player").summary(np.array([np.inf, np.nan, 1.0]))["values"] == ["Infinity", "NaN", 1.0]


def test_a_state_used_twice_shows_both_parts():
    """The seed's two-layer network has a loss at every step: dE/ds_2 comes from O_2 (through s'_2) and from s_3."""
    from tinygrad_rnn import seed
    E, named = seed.two_layer_network(steps=3)
    p = player(E, None, names={k: v for k, v in named.items() if k.startswith("W")}, check="states")
    steps = {s["label"]: s for s in p.data["steps"]}
    s_2 = steps["s_2"]
    assert [part["from"] for part in s_2["parts"]] == ["s_2 @ W_s", "s_2 @ W_y"]
    ref = next(s for s in p.stepper.steps if s.label == "s_2")
    assert [part["norm"] for part in s_2["parts"]] == [pytest.approx(norm(g.grad), rel=1e-12) for g in ref.grad_parts]
    rows = {row["name"]: row for row in p.data["strip"]}
    assert set(rows) == {"s", "s'"}
    events = next(c for c in rows["s"]["cells"] if c["label"] == "s_2")["events"]
    assert [ev[2] for ev in events] == [0, 1, 1]          # partial after the first use, complete after the second
    assert events[0][1] == pytest.approx(norm(ref.grad_parts[0].grad), rel=1e-12)
    assert events[1][1] == events[2][1] == pytest.approx(norm(ref.grad), rel=1e-12)
    assert s_2["fd"]["ok"] and steps["s'_2"]["fd"]["ok"]


def test_viz_player_is_the_function(tmp_path):
    import viz
    E, names = build("seed", 3)
    p = viz.player(E, tmp_path / "p.html", names=names, check="none")
    assert isinstance(p, viz.Player) and (tmp_path / "p.html").exists()
    assert callable(viz.player) and importlib.import_module("viz.player").player is viz.player


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_a_layer_weight_shows_one_contribution_per_step(model):
    """linear(h_{t-1}, W_hh, b_hh) at every step: the leaf W_hh has T uses, each step's contribution says how it
    is computed (g.T @ h_{t-1}), and the contributions add up to W_hh.grad."""
    T = 3
    E, names = build(model, T)
    p = player(E, None, names=names, check="leaves", check_elements=2)
    leaves = {leaf["name"]: leaf for leaf in p.data["leaves"]}
    assert leaves["weight_hh_l0"]["uses"] == T and leaves["bias_hh_l0"]["uses"] == T
    assert leaves["weight_ih_l0"]["uses"] == T                   # one op projects all steps: split by row
    ih = [a for s in p.data["steps"] for a in s["accs"] if a["name"] == "weight_ih_l0"]
    assert [a["when"] for a in ih] == [f"t={t}" for t in range(T, 0, -1)]
    assert leaves["weight_hh_l0"]["fd"]["ok"]
    uses = [(s, e) for s in p.data["steps"] for e in s["inputs"] if e["name"] == "weight_hh_l0"]
    assert [s["time"] for s, _ in uses] == [f"t={t}" for t in range(T, 0, -1)]
    assert [e["formula"] for _, e in uses] == [f"g.T @ h_{t - 1}" for t in range(T, 0, -1)]
    assert all(s["op"] == "linear" for s, _ in uses)
    accs = [a for s in p.data["steps"] for a in s["accs"] if a["name"] == "weight_hh_l0"]
    assert [a["use"] for a in accs] == [1, 2, 3] and [a["when"] for a in accs] == ["t=3", "t=2", "t=1"]
    w = names["weight_hh_l0"]
    contributions = [e.grad for s in p.stepper.steps for e in s.inputs if e.tensor is w]
    np.testing.assert_allclose(sum(contributions), w.grad, rtol=1e-12)
    assert accs[-1]["total"]["norm"] == pytest.approx(norm(w.grad), rel=1e-12)
    x_formula = next(e["formula"] for s, _ in uses[:1] for e in s["inputs"] if e["pos"] == 0)
    assert x_formula == "g @ weight_hh_l0"


def test_player_refuses_an_unscoped_long_loop_with_advice(tmp_path):
    W = Tensor(np.full((2, 2), 0.1), requires_grad=True, name="W")
    h = Tensor(np.ones((1, 2)))
    for _ in range(50):                                   # no t= scopes: W would fan out to 50 ops
        h = (h @ W).tanh()
    with pytest.raises(TooLarge, match="scope"):
        player(h.sum(), tmp_path / "p.html")


def test_a_graph_too_long_for_a_page_is_refused_before_the_walk(tmp_path):
    from tinygrad_rnn.core import tape
    from viz.cli.teach import build
    from viz.player import MAX_NODES
    E, names = build("lstm", 200)
    recorded = len(tape.nodes_newest_first(E.node))
    assert recorded > MAX_NODES
    with pytest.raises(ValueError, match=rf"player: the graph has {recorded} recorded ops.*at most {MAX_NODES}"):
        player(E, tmp_path / "long.html", names=names)
    assert not (tmp_path / "long.html").exists()
    E.backward()                                    # the graph was not walked: it can still be
    assert all(p.grad is not None for p in names.values())


def test_the_command_line_refuses_a_player_too_long_in_one_line(capsys, tmp_path):
    from viz import cli
    assert cli.main(["player", "--model", "lstm", "--steps", "300", "--out", str(tmp_path / "p.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "recorded ops" in err[0] and "Traceback" not in err[0]
