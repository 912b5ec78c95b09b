"""Every term has a path: each term a weight receives (formula (2)'s sum over t) knows the steps its gradient
flowed through and the chain of factors along them; in the browser, selecting a term highlights exactly that
chain of edges, a click on a vertex goes to its step, the play speed changes, and a forward pass can play first."""
import os
import time

import numpy as np
import pytest

pytest.importorskip("graphviz")

from tinygrad_rnn import bptt
from tinygrad_rnn.teach.stepper import norm
from viz.cli.teach import build
from viz.player import path_steps, player


@pytest.fixture(scope="module")
def seed_page(tmp_path_factory):
    path = tmp_path_factory.mktemp("paths") / "seed.html"
    E, names = build("seed", 3)
    return player(E, path, names=names, check="none"), path


def test_the_seeds_terms_are_formula_1_to_3_chains(seed_page):
    p, _ = seed_page
    terms = p.data["terms"]
    assert sorted((t["leaf"], t["when"]) for t in terms) == sorted(
        [("W_y", "t=3")] + [(w, f"t={t}") for w in ("W_s", "W_x") for t in (1, 2, 3)])
    for t in terms:
        k = int(t["when"][2:])
        assert t["chain"] == bptt.chain(t["leaf"], k, 3)            # the post's formula, factor by factor
        assert t["chain_mathml"] and not t["branches"] and t["edge"]
        step = p.stepper.steps[t["step"]]
        contribution = next(e.grad for e in step.inputs if e.name == t["leaf"])
        assert t["value"]["norm"] == pytest.approx(norm(contribution), rel=1e-12)
        path = path_steps({s["i"]: s["feeds"] for s in p.data["steps"]}, t["step"])
        assert t["depth"] == len(path) and 0 in path                 # every path ends at the loss
    # the earlier the use, the longer the path back from E_3
    w_s = sorted((t for t in terms if t["leaf"] == "W_s"), key=lambda t: t["when"])
    assert w_s[0]["depth"] > w_s[1]["depth"] > w_s[2]["depth"]


def test_a_long_chain_is_elided_in_the_middle():
    E, names = build("seed", 12)
    p = player(E, None, names={k: v for k, v in names.items() if k.startswith("W")}, check="none")
    first = next(t for t in p.data["terms"] if t["leaf"] == "W_s" and t["when"] == "t=1")
    assert first["chain"] == "∂E_12/∂y_12 · ∂y_12/∂s_12 · ∂s_12/∂s_11 · ⋯ · ∂s_2/∂s_1 · ∂s_1/∂W_s"
    assert first["chain_mathml"].count("<mfrac>") == 5


def test_a_gated_cell_says_its_path_branches():
    E, names = build("lstm", 2)
    p = player(E, None, names=names, check="none")
    hh = [t for t in p.data["terms"] if t["leaf"] == "weight_hh_l0"]
    assert len(hh) == 2 and all(t["branches"] and t["chain_mathml"] is None for t in hh)
    assert all(t["edge"] for t in hh)


def path_classes(browser):
    return browser.execute_script("""return {
        path: Array.from(document.querySelectorAll('#graph .pl-path')).map(g => g.id).sort(),
        leaf: Array.from(document.querySelectorAll('#graph .pl-path-leaf')).map(g => g.id)};""")


def test_selecting_a_term_highlights_its_chain_of_edges(browser, seed_page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    p, path = seed_page
    data = p.data
    browser.get(path.as_uri())
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(browser).send_keys(Keys.END).perform()
    i = next(j for j, t in enumerate(data["terms"]) if t["leaf"] == "W_s" and t["when"] == "t=2")
    term = data["terms"][i]
    button = browser.find_element(By.CSS_SELECTOR, f"#leaves button.term[data-term='{i}']")
    assert button.text.startswith("t=2")
    button.click()
    got = path_classes(browser)
    path = path_steps({s["i"]: s["feeds"] for s in data["steps"]}, term["step"])
    vertices = {data["step_vertex"][k] for k in path}
    edges = {eid for eid, e in data["edges"].items() if e["src"] in vertices and e["dst"] in vertices}
    assert got["path"] == sorted(vertices | edges | {term["edge"]})
    assert got["leaf"] == [term["edge"]]
    # the other uses of W_s are not on this path: their edges stay as they were
    others = [t["edge"] for t in data["terms"] if t["leaf"] == "W_s" and t is not term]
    assert others and not set(others) & set(got["path"])
    # the chain E_3 <- y_3 <- s_3 <- s_2 <- W_s, as math, and the gradient at each factor
    section = browser.find_element(By.ID, "term")
    assert section.find_elements(By.CSS_SELECTOR, ".chain math mfrac")
    factors = [b.text for b in section.find_elements(By.CSS_SELECTOR, "button.jump")]
    assert [f.replace("\n", "") for f in factors] == ["∂E3/∂y3", "∂E3/∂s3", "∂E3/∂s2"]
    norms = [float(n.get_attribute("data-v")) for n in section.find_elements(By.CSS_SELECTOR, "table.factors .nrm")]
    by_label = {s.label: s for s in p.stepper.steps}
    assert norms == [pytest.approx(norm(by_label[x].grad), rel=1e-12) for x in ("y_3", "s_3", "s_2")]
    shots = os.environ.get("TINYGRAD_RNN_SCREENSHOTS") or str(tmp_path)
    os.makedirs(shots, exist_ok=True)
    browser.save_screenshot(os.path.join(shots, "player_term_path.png"))
    # a factor's button goes to its step; the path stays drawn until closed
    section.find_elements(By.CSS_SELECTOR, "button.jump")[1].click()
    s_3 = next(s.index for s in p.stepper.steps if s.label == "s_3")
    assert browser.execute_script("return window.player.state.k") == s_3
    assert path_classes(browser)["path"] == got["path"]
    browser.find_element(By.ID, "term-clear").click()
    assert path_classes(browser) == {"path": [], "leaf": []}
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_clicking_a_vertex_goes_to_its_step(browser, seed_page):
    from selenium.webdriver.common.by import By
    p, path = seed_page
    browser.get(path.as_uri())
    k = next(s.index for s in p.stepper.steps if s.label == "s_2")
    vid = p.data["step_vertex"][k]
    browser.find_element(By.CSS_SELECTOR, f"#graph g.node[id='{vid}'] text").click()
    assert browser.execute_script("return window.player.state.k") == k
    w_s = next(leaf["vertex"] for leaf in p.data["leaves"] if leaf["name"] == "W_s")
    browser.find_element(By.CSS_SELECTOR, f"#graph g.node[id='{w_s}'] text").click()   # a weight: its first term
    first = min(t["step"] for t in p.data["terms"]                                     # (a copy: its step's)
                if t["leaf"] == "W_s" and p.data["edges"][t["edge"]]["src"] == w_s)
    assert browser.execute_script("return window.player.state.k") == first


FOLDED_GRADIENTS = """return {
    shown: Array.from(document.querySelectorAll('#folded text')).map(t => t.textContent.trim())
        .filter((t, i, all) => /^(∇|terms over|[▁-█·!]+$)/.test(t) &&
                document.querySelectorAll('#folded text')[i].getBoundingClientRect().height > 0),
    colours: Array.from(new Set(Array.from(document.querySelectorAll('#folded g.edge:not(.loop) path'))
        .map(p => getComputedStyle(p).stroke))),
    head: document.getElementById('fold-head').textContent};"""


def test_play_speed_and_the_forward_pass(browser, seed_page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    p, path = seed_page
    browser.get(path.as_uri())
    Select(browser.find_element(By.ID, "speed")).select_by_value("200")
    browser.find_element(By.ID, "forward").click()
    browser.find_element(By.ID, "play").click()
    order = browser.execute_script("""const v = window.player.data.vertices;
        return Object.keys(v).filter(id => document.getElementById(id)).sort((a, b) => v[a].fwd - v[b].fwd);""")
    WebDriverWait(browser, 5, poll_frequency=0.05).until(
        lambda b: b.find_element(By.ID, "pos").text.startswith("forward 3 /"))
    status = browser.execute_script("""return {
        cur: Array.from(document.querySelectorAll('#graph g.node.pl-fwd-cur')).map(g => g.id),
        done: document.querySelectorAll('#graph g.node.pl-fwd').length,
        head: document.getElementById('panel-head').textContent};""")
    assert status["cur"] == [order[2]] and status["done"] == 2 and status["head"].startswith("forward pass")
    # the folded view computes no gradient in the forward pass either: no ∇, no terms, no gradient colours
    folded = browser.execute_script(FOLDED_GRADIENTS)
    assert folded["shown"] == [] and folded["colours"] == ["rgb(154, 154, 154)"], folded
    assert "no gradients yet" in folded["head"]
    # the forward pass ends on the loss, then the backward walk starts there, at the chosen speed
    start = time.time()
    WebDriverWait(browser, 4 + 0.25 * len(order), poll_frequency=0.05).until(
        lambda b: b.execute_script("return window.player.state.k") >= 3)
    assert browser.execute_script("return window.player.state.fwd") is None
    assert not browser.find_elements(By.CSS_SELECTOR, "#graph g.node.pl-fwd")
    folded = browser.execute_script(FOLDED_GRADIENTS)                  # the backward walk: the gradients are back
    assert len(folded["shown"]) > 10 and any(t.startswith("terms over") for t in folded["shown"])
    assert len(folded["colours"]) > 1 and folded["head"].startswith("folded: each loop once")
    browser.find_element(By.ID, "play").click()                                  # pause
    assert time.time() - start < 0.25 * len(order) + 3
    Select(browser.find_element(By.ID, "speed")).select_by_value("2400")     # slow: one step in 2.4 s
    here = browser.execute_script("return window.player.state.k")
    browser.find_element(By.ID, "play").click()
    time.sleep(1.2)
    assert browser.execute_script("return window.player.state.k") == here
    browser.find_element(By.ID, "play").click()
    assert np.isfinite(here)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
