"""The HTML player in a real browser (headless Chromium): what a learner sees after pressing next, arrow keys,
the slider, play, quiz and check. Screenshots go to $TINYGRAD_RNN_SCREENSHOTS (or pytest's tmp dir)."""
import os
import time

import numpy as np
import pytest

pytest.importorskip("graphviz")

from tinygrad_rnn.teach.stepper import norm
from viz.player import player
from viz.cli.teach import build

PENDING = "#cfcfcf"


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    path = tmp_path_factory.mktemp("player") / "seed.html"
    E, names = build("seed", 3)
    p = player(E, path, names=names)
    return p, path


def load(browser, path):
    browser.get(path.as_uri())
    assert browser.execute_script("return !!window.player"), "the player's script did not run"
    browser.get_log("browser")                       # start each page with an empty console


def errors(browser):
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def status(browser):
    return browser.execute_script("""
        return {step: Number(document.body.getAttribute('data-step')),
                current: document.body.getAttribute('data-current'),
                ringed: Array.from(document.querySelectorAll('#graph g.pl-current')).map(g => g.id),
                pending: document.querySelectorAll('#graph g.node.pl-pending').length,
                op: (document.getElementById('panel-op') || {}).textContent,
                label: (document.getElementById('panel-label') || {}).getAttribute?.('data-label'),
                upstream: Number((document.querySelector('#upstream .eq .nrm') || {}).getAttribute?.('data-v')),
                contribs: Array.from(document.querySelectorAll('#inputs .input')).map(d => {
                    const n = d.querySelector('.contrib .nrm');
                    return [Number(d.getAttribute('data-pos')), n ? Number(n.getAttribute('data-v')) : null]; }),
                pos: document.getElementById('pos').textContent};""")


def press(browser, key, times=1):
    from selenium.webdriver.common.action_chains import ActionChains
    for _ in range(times):
        ActionChains(browser).send_keys(key).perform()


def click(browser, element_id, times=1):
    from selenium.webdriver.common.by import By
    for _ in range(times):
        browser.find_element(By.ID, element_id).click()


def edge_strokes(browser):
    return browser.execute_script("""
        const out = {};
        for (const id of Object.keys(window.player.data.edges)) {
            const p = document.getElementById(id)?.querySelector('path');
            if (p) out[id] = p.getAttribute('stroke');
        }
        return out;""")


def check_step(browser, p, k):
    """The page shows step k: its vertex ringed, its op, label and numbers in the panel, edges up to k coloured."""
    data, step = p.data, p.stepper.steps[k]
    s = status(browser)
    assert s["step"] == k and s["pos"] == f"step {k + 1} / {len(p)}"
    assert s["current"] == data["step_vertex"][k] and s["ringed"] == [data["step_vertex"][k]]
    assert s["op"] == step.op and s["label"] == step.label
    assert s["upstream"] == pytest.approx(norm(step.grad), rel=1e-12)
    want = [[e.position, None if e.grad is None else pytest.approx(norm(e.grad), rel=1e-12)] for e in step.inputs]
    assert s["contribs"] == want
    strokes = edge_strokes(browser)
    for eid, e in data["edges"].items():
        reached = [ev for ev in e["events"] if ev[0] <= k]
        assert strokes[eid] == (reached[-1][1] if reached else PENDING), eid


def test_next_and_arrow_keys_walk_the_graph(browser, seed, shots):
    from selenium.webdriver.common.keys import Keys
    p, path = seed
    load(browser, path)
    s = status(browser)
    assert s["step"] == -1 and s["ringed"] == [] and s["pos"].startswith("start")
    assert s["pending"] >= len(p.data["vertices"]) - 1          # nothing reached yet (the loss waits to start)
    click(browser, "next")
    check_step(browser, p, 0)                                    # the walk starts at E_3
    assert p.stepper.steps[0].label == "E_3"
    click(browser, "next", 3)
    check_step(browser, p, 3)
    press(browser, Keys.ARROW_RIGHT, 5)
    check_step(browser, p, 8)
    press(browser, Keys.ARROW_LEFT)
    check_step(browser, p, 7)
    click(browser, "prev")
    check_step(browser, p, 6)
    press(browser, Keys.END)
    check_step(browser, p, len(p) - 1)
    assert browser.execute_script("return !!document.getElementById('done')")
    press(browser, Keys.HOME)
    assert status(browser)["step"] == -1
    assert errors(browser) == []
    browser.save_screenshot(os.path.join(shots, "player_seed_start.png"))


def test_panel_shows_the_shared_weight_and_the_two_uses_of_a_state(browser, seed, shots):
    p, path = seed
    load(browser, path)
    steps = p.stepper.steps
    k = next(s.index for s in steps if s.label == "s_1 @ W_s")     # W_s gets its 2nd contribution here
    browser.execute_script("const s = document.getElementById('slider'); s.value = arguments[0];"
                           "s.dispatchEvent(new Event('input'));", k)
    check_step(browser, p, k)
    text = browser.find_element("id", "panel").text
    what = browser.execute_script("""return Array.from(document.querySelectorAll('#accs .acc-what')).map(w =>
        [w.textContent, w.querySelector('math mfrac msub') ? w.querySelector('math mfrac msub').textContent : null]);""")
    assert what == [["∂E3∂Ws += the term from t=2 (2nd of 3 uses); Ws.grad holds the sum", "E3"]]   # ∂E_3/∂W_s as math
    assert "contribution from" not in text and "∂E/" not in text
    assert "g @ W_s.T" in text and "np.outer(s_1, g)" in text     # how each contribution is computed, as numpy
    assert browser.execute_script("return !!document.querySelector('#panel-rule math mfrac')")   # the rule, as math
    rows = browser.execute_script("""return Array.from(document.querySelectorAll('#leaves tr[data-leaf]')).map(
        r => [r.getAttribute('data-leaf'), r.children[1].textContent, r.querySelector('.nrm').getAttribute('data-v')]);""")
    w_s = next(r for r in rows if r[0] == "W_s")
    assert w_s[1] == "2 / 3"
    assert float(w_s[2]) == pytest.approx(norm(steps[k].leaf_grads["W_s"]), rel=1e-12)
    # the strip: s_1's only use (s_1 @ W_s) has just sent dE/ds_1 back; s_2 and s_3 were done before
    cells = browser.execute_script("""return Array.from(document.querySelectorAll('#strip .strip-num')).map(
        t => t.textContent);""")
    by_label = {s.label: s for s in steps}
    assert float(cells[0]) == pytest.approx(norm(by_label["s_1"].grad), rel=2e-3)
    assert float(cells[1]) == pytest.approx(norm(by_label["s_2"].grad), rel=2e-3)
    assert float(cells[2]) == pytest.approx(norm(by_label["s_3"].grad), rel=2e-3)
    title = browser.execute_script("""const t = document.querySelector('#strip .strip-title');
        return [t.textContent, Array.from(t.querySelectorAll('tspan')).map(s => [s.textContent,
                s.getAttribute('baseline-shift')])];""")
    assert title[0].startswith("‖∂E3/∂st‖ (seed) per time step")        # E_3 and s_t with their subscripts
    assert title[1] == [["3", "sub"], ["t", "sub"]]
    names = browser.execute_script("""return Array.from(document.querySelectorAll('#strip .strip-name')).map(
        t => [t.textContent, Array.from(t.querySelectorAll('tspan')).map(s => s.getAttribute('baseline-shift'))]);""")
    assert names == [["s1", ["sub"]], ["s2", ["sub"]], ["s3", ["sub"]]]   # under each bar: s_t as math
    browser.save_screenshot(os.path.join(shots, "player_seed_shared_weight.png"))
    k2 = next(s.index for s in steps if s.label == "s_1 @ W_s") - 1     # just before: nothing has reached s_1
    browser.execute_script("const s = document.getElementById('slider'); s.value = arguments[0];"
                           "s.dispatchEvent(new Event('input'));", k2)
    check_step(browser, p, k2)
    assert browser.execute_script("return document.querySelector('#strip .strip-num').textContent") == ""
    assert errors(browser) == []


def test_quiz_hides_then_reveals_and_compares(browser, seed, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    p, path = seed
    load(browser, path)
    steps = p.stepper.steps
    k = next(s.index for s in steps if s.label == "x_3 @ W_x")
    click(browser, "quiz")
    click(browser, "next", k + 1)
    assert status(browser)["step"] == k
    assert browser.find_elements(By.CSS_SELECTOR, "#inputs .contrib") == []   # hidden
    guesses = browser.find_elements(By.CSS_SELECTOR, "input.guess")
    assert len(guesses) == 1                                                   # x_3 is a constant: nothing to guess
    now = [eid for eid, e in p.data["edges"].items() if any(ev[0] == k for ev in e["events"])]
    assert now and all(edge_strokes(browser)[eid] == PENDING for eid in now)  # the graph does not give it away
    W_x = steps[k].inputs[1].grad.reshape(-1)
    guesses[0].send_keys(f"{W_x[0]:.6g}, {W_x[1] * 1.5:.6g}")
    browser.save_screenshot(os.path.join(shots, "player_seed_quiz.png"))
    guesses[0].send_keys(Keys.ENTER)                                           # Enter reveals
    check_step(browser, p, k)                                                  # now everything is shown
    result = browser.find_element(By.CSS_SELECTOR, ".quiz.result").text
    assert "1 of 2 values within 2%" in result and "✓" in result and "✗" in result
    press(browser, Keys.ARROW_RIGHT)
    assert browser.find_elements(By.CSS_SELECTOR, "#inputs .contrib") == []   # the next step is hidden again
    press(browser, Keys.ARROW_LEFT)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#inputs .contrib")) == 1   # a revealed step stays revealed
    click(browser, "quiz")
    assert errors(browser) == []


def test_check_button_and_play(browser, seed, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    p, path = seed
    load(browser, path)
    k = next(s.index for s in p.stepper.steps if s.label == "s_2")
    click(browser, "next", k + 1)
    click(browser, "check")
    fd = browser.find_element(By.CSS_SELECTOR, "#upstream .fd").text
    assert "✓ agree" in fd and "finite diff." in fd
    rows = p.data["steps"][k]["fd"]["rows"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#upstream .fd tr")) == len(rows) + 1
    browser.save_screenshot(os.path.join(shots, "player_seed_check.png"))
    leaf_buttons = browser.find_elements(By.CSS_SELECTOR, "button.check-leaf")
    assert len(leaf_buttons) == 3
    leaf_buttons[1].click()
    assert "this backward's sum, after all 3 uses" in browser.find_element(By.ID, "leaves").text
    click(browser, "play")
    WebDriverWait(browser, 5).until(lambda b: status(b)["step"] >= k + 2)
    click(browser, "play")                                                     # pause
    here = status(browser)["step"]
    assert browser.find_element(By.ID, "play").text.endswith("play")
    browser.implicitly_wait(0)
    import time
    time.sleep(1.2)
    assert status(browser)["step"] == here                                     # paused means paused
    assert errors(browser) == []


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_gated_cells_play_to_the_end(browser, tmp_path, shots, model):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    E, names = build(model, 2)
    path = tmp_path / f"{model}.html"
    p = player(E, path, names=names)
    load(browser, path)
    notes = browser.execute_script("return Array.from(document.querySelectorAll('.intro .convention')).map("
                                   "e => e.textContent);")
    assert len(notes) == 1 and ("1 − zₜ" in notes[0]) == (model == "gru") and ("C̃ₜ" in notes[0]) == (model == "lstm")
    press(browser, Keys.ARROW_RIGHT, 12)
    check_step(browser, p, 11)
    import time
    time.sleep(0.6)                                       # let the smooth scroll to the current node finish
    browser.save_screenshot(os.path.join(shots, f"player_{model}_step12.png"))
    press(browser, Keys.END)
    check_step(browser, p, len(p) - 1)
    rows = browser.execute_script("""return Array.from(document.querySelectorAll('#leaves tr[data-leaf]')).map(
        r => [r.getAttribute('data-leaf'), Number(r.querySelector('.nrm').getAttribute('data-v'))]);""")
    assert len(rows) == len(names)
    for name, shown in rows:
        assert shown == pytest.approx(norm(names[name].grad), rel=1e-12)
    heights = browser.execute_script("""return Array.from(document.querySelectorAll('#strip .strip-bar')).map(
        r => Number(r.getAttribute('height')));""")
    assert len(heights) == 2 * (2 if model == "lstm" else 1) and all(h > 0 for h in heights)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#graph g.node.pl-pending")) == 0
    assert errors(browser) == []
    browser.save_screenshot(os.path.join(shots, f"player_{model}_end.png"))
    assert os.path.getsize(os.path.join(shots, f"player_{model}_end.png")) > 10_000
    assert np.isfinite([h for h in heights]).all()


def test_a_state_that_receives_gradient_from_two_places(browser, tmp_path, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tinygrad_rnn import seed as seed_nets
    E, named = seed_nets.two_layer_network(steps=3)
    path = tmp_path / "two_layer.html"
    p = player(E, path, names={k: v for k, v in named.items() if k.startswith("W")})
    load(browser, path)
    steps = p.stepper.steps
    visit = next(s for s in steps if s.label == "s_2")
    first = visit.grad_parts[0].from_step                 # the first use of s_2 sends its part back here
    press(browser, Keys.ARROW_RIGHT, first + 1)
    check_step(browser, p, first)
    cell = browser.execute_script("""const i = window.player.data.strip[0].cells.findIndex(c => c.label === 's_2');
        return document.querySelectorAll('#strip .strip-num')[i].textContent;""")
    assert cell.endswith("so far") and float(cell.split()[0]) == pytest.approx(norm(visit.grad_parts[0].grad), rel=2e-3)
    press(browser, Keys.ARROW_RIGHT, visit.index - first)
    check_step(browser, p, visit.index)
    parts = browser.find_element(By.ID, "panel-parts")
    assert "is used 2 times" in parts.text
    shown = [float(n.get_attribute("data-v")) for n in parts.find_elements(By.CSS_SELECTOR, ".nrm")]
    assert shown == [pytest.approx(norm(g.grad), rel=1e-12) for g in visit.grad_parts]
    from selenium.webdriver.support.ui import WebDriverWait

    def in_view(b):                                       # the smooth scroll to the current node may take a while
        ringed = b.find_element(By.CSS_SELECTOR, "#graph g.pl-current").rect
        pane = b.find_element(By.ID, "graph-pane").rect
        return pane["x"] <= ringed["x"] and ringed["x"] + ringed["width"] <= pane["x"] + pane["width"]
    WebDriverWait(browser, 10, poll_frequency=0.1).until(in_view)
    assert errors(browser) == []
    browser.save_screenshot(os.path.join(shots, "player_two_layer_s2.png"))


def test_inline_in_jupyter_the_iframe_plays(browser, seed, tmp_path):
    from selenium.webdriver.common.by import By
    p, _ = seed
    notebook = tmp_path / "notebook.html"
    notebook.write_text("<!DOCTYPE html><html><body><h1>cell output</h1><div id='out' style='overflow:auto'>"
                        f"{p._repr_html_()}</div></body></html>", encoding="utf-8")
    browser.get(notebook.as_uri())
    assert browser.execute_script("const d = document.getElementById('out'); return d.scrollWidth <= d.clientWidth"), \
        "the iframe, border included, is wider than the cell: a scroll bar under it"
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        click(browser, "next", 3)
        check_step(browser, p, 2)
    finally:
        browser.switch_to.default_content()
    assert errors(browser) == []


STRIP_SLOTS = """return Array.from(document.querySelectorAll('#strip .strip-slot')).map(
    r => [Number(r.getAttribute('x')), Number(r.getAttribute('width'))]);"""


def test_a_player_shown_after_loading_hidden_draws_its_strip_under_the_steps(browser, seed, tmp_path, shots):
    """A notebook's output can load its iframe before the iframe is laid out (hidden, or no size yet): every box
    measures 0 then. The strip waits for a real layout and matches the standalone page's."""
    from selenium.webdriver.common.by import By
    p, path = seed
    browser.set_window_size(1920, 1080)
    load(browser, path)
    standalone = browser.execute_script(STRIP_SLOTS)
    columns = browser.execute_script("""const D = window.player.data;
        return Object.keys(D.cols).sort().map(t => { const b = document.getElementById(D.cols[t]).getBBox();
                                                     return [b.x, b.x + b.width]; });""")
    assert len(standalone) == 3 and all(w > 20 for _, w in standalone)
    for (x, w), (c0, c1) in zip(standalone, columns):                  # each bar under its own time step
        assert c0 <= x and x + w <= c1
    notebook = tmp_path / "hidden.html"
    notebook.write_text("<!DOCTYPE html><html><body><div id='out' style='display:none'>" + p._repr_html_() +
                        "</div><script>setTimeout(() => document.getElementById('out').style.display = 'block', 300)"
                        "</script></body></html>", encoding="utf-8")
    browser.get(notebook.as_uri())
    time.sleep(0.6)
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        click(browser, "next", 8)
        check_step(browser, p, 7)
        assert browser.execute_script(STRIP_SLOTS) == standalone
        assert browser.execute_script("return document.querySelectorAll('#strip .strip-title').length") == 1
    finally:
        browser.switch_to.default_content()
    browser.save_screenshot(os.path.join(shots, "player_shown_after_hidden-1920x1080.png"))
    assert errors(browser) == []
    browser.set_window_size(1500, 1000)                 # the module's other tests use the fixture's size


def test_sums_stay_true_when_grad_starts_non_zero(browser, tmp_path, shots):
    """A notebook cell run twice: the leaves' .grad already holds an earlier backward. The page's sums are this
    walk's terms; the earlier gradient is its own 'before this backward' row, announced at the start."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    E, names = build("seed", 3)
    before = {n: np.full(w.shape, 0.5) for n, w in names.items()}
    for n, w in names.items():
        w.grad = before[n].copy()
    path = tmp_path / "stale.html"
    p = player(E, path, names=names)
    load(browser, path)
    note = browser.find_element(By.ID, "stale")
    assert note.is_displayed() and note.location["y"] < 300                    # at the top, not scrolled away
    browser.save_screenshot(os.path.join(shots, "player_stale_start.png"))
    press(browser, Keys.END)
    check_step(browser, p, len(p) - 1)
    rows = dict(browser.execute_script("""return Array.from(document.querySelectorAll('#leaves tr[data-leaf]')).map(
        r => [r.getAttribute('data-leaf'), Number(r.querySelector('.nrm').getAttribute('data-v'))]);"""))
    held = dict(browser.execute_script("""return Array.from(document.querySelectorAll('#leaves tr[data-leaf-before]')).map(
        r => [r.getAttribute('data-leaf-before'), Number(r.querySelector('.nrm').getAttribute('data-v'))]);"""))
    for n, w in names.items():
        walked = w.grad - before[n]
        terms = [a.contribution for s in p.stepper.steps for a in s.accumulations if a.name == n]
        np.testing.assert_allclose(sum(terms), walked, rtol=1e-12, atol=1e-15)
        assert rows[n] == pytest.approx(norm(walked), rel=1e-12)               # the sum of this walk's terms
        assert rows[n] != pytest.approx(norm(w.grad), rel=1e-3)                # not .grad with the old gradient in
        assert held[n] == pytest.approx(norm(before[n]), rel=1e-12)
    done = browser.find_element(By.ID, "done").text
    assert "before this backward" in done and "plus the sum" in done
    acc_text = browser.find_element(By.ID, "accs").text
    assert "this backward's sum" in acc_text
    assert errors(browser) == []
    browser.save_screenshot(os.path.join(shots, "player_stale_end.png"))


def fold_status(browser):
    return browser.execute_script("""
        const ids = sel => Array.from(document.querySelectorAll(sel)).map(g => g.id).sort();
        return {edges: ids('#graph g.edge.pl-use'), vertices: ids('#graph g.node.pl-use'),
                on: ids('#folded g.fold-on'),
                head: document.getElementById('fold-head').textContent,
                pane: document.getElementById('folded-pane').getBoundingClientRect().height,
                graph: document.getElementById('graph-pane').getBoundingClientRect().height,
                text: Math.min(...Array.from(document.querySelectorAll(
                    '#folded g.node text:not(.tg-sub):not(.tg-super)')).map(                /* subscripts aside */
                    t => t.getBoundingClientRect().height).filter(h => h > 0))};""")


@pytest.mark.parametrize("model,steps,layers", [("seed", 3, 1), ("lstm", 4, 2)])
def test_a_click_on_a_folded_weight_marks_its_uses_in_the_unrolled_graph(browser, tmp_path, shots, model, steps,
                                                                         layers):
    from selenium.webdriver.common.by import By
    E, names = build(model, steps, layers=layers)
    recurrent = "W_s" if model == "seed" else "weight_hh_l1"
    leaf = names[recurrent]
    uses = [n.index for n in __import__("tinygrad_rnn").graph(E) if any(t is leaf for t in n.inputs)]
    assert len(uses) == steps
    path = tmp_path / f"{model}.html"
    p = player(E, path, names=names)
    # what the unrolled view draws for those T uses, read from the tape, not from the folded data
    want_edges = sorted(eid for eid, e in p.data["edges"].items() if e["dst"] in {f"op{i}" for i in uses}
                        and p.data["vertices"].get(e["src"], {}).get("label") == recurrent)
    sources = {p.data["edges"][e]["src"] for e in want_edges}
    want_vertices = sorted({f"op{i}" for i in uses} | {v for v in sources if p.data["vertices"][v]["kind"] == "copy"})
    assert len(want_edges) == steps
    for width, height in ((1024, 768), (1920, 1080)):
        browser.set_window_size(width, height)
        load(browser, path)
        toggle = browser.find_element(By.ID, "show-folded")
        pane = browser.find_element(By.ID, "folded-pane")
        assert toggle.is_displayed() and toggle.is_selected() == (height > 768)   # a small window starts closed
        if not toggle.is_selected():
            assert not pane.is_displayed() and fold_status(browser)["graph"] >= 0.6 * height   # the graph gets it
            toggle.click()
        assert pane.is_displayed()
        fid = f"fold_leaf_{recurrent}"
        target = browser.find_element(By.ID, fid)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", target)
        target.click()
        s = fold_status(browser)
        assert s["edges"] == want_edges and s["vertices"] == want_vertices and s["on"] == [fid]
        assert f"its {steps} uses marked" in s["head"]
        assert s["text"] >= (13 if width >= 1600 else 10.5)            # the folded view stays readable
        if model == "seed" and width >= 1600:                           # and shows all of a small picture
            assert browser.execute_script("""const p = document.getElementById('folded-pane').getBoundingClientRect(),
                s = document.querySelector('#folded svg').getBoundingClientRect();
                return s.left >= p.left && s.right <= p.right && s.top >= p.top && s.bottom <= p.bottom;""")
        assert s["pane"] <= 0.31 * height and s["graph"] >= 0.4 * height   # and leaves the graph its room
        time.sleep(0.8)                                                 # the graph pane scrolls to the uses
        assert browser.execute_script("""const p = document.getElementById('graph-pane').getBoundingClientRect();
            return Array.from(document.querySelectorAll('#graph g.node.pl-use')).some(g => {
                const b = g.getBoundingClientRect();
                return b.left >= p.left && b.right <= p.right && b.top >= p.top && b.bottom <= p.bottom; });""")
        browser.save_screenshot(os.path.join(shots, f"player_{model}_folded_uses-{width}x{height}.png"))
        other = browser.find_element(By.ID, "fold_leaf_W_x" if model == "seed" else "fold_leaf_weight_ih_l0")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", other)
        other.click()
        assert len(fold_status(browser)["edges"]) == (steps if model == "seed" else 1)   # W_ih: one batched use
        other.click()                                                   # a second click clears the marks
        assert fold_status(browser)["edges"] == [] and fold_status(browser)["on"] == []
        browser.execute_script("window.player.selectTerm(0)")          # a term's path and a weight: one at a time
        target.click()
        assert browser.execute_script("return window.player.state.term") is None
        assert errors(browser) == []


def test_a_graph_without_time_steps_has_no_folded_pane(browser, tmp_path):
    import tinygrad_rnn as tg
    W = tg.Tensor(np.eye(2) * 0.5, requires_grad=True, name="W")
    loss = (tg.Tensor(np.ones((1, 2)), name="x") @ W).sum()
    path = tmp_path / "flat.html"
    player(loss, path, names={"W": W})
    load(browser, path)
    assert browser.execute_script("return document.getElementById('folded-pane').hidden && "
                                  "document.getElementById('folded-toggle').hidden")
    assert errors(browser) == []
