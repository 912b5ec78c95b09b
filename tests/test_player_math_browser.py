"""Rendered math in a real browser (headless Chromium): the player's formulas are MathML boxes with a size, and
no LaTeX source is visible anywhere on the page. Screenshots at a projector's and a laptop's size go to
$TINYGRAD_RNN_SCREENSHOTS (or pytest's tmp dir)."""
import os

import pytest

pytest.importorskip("graphviz")
pytest.importorskip("latex2mathml")

from viz.cli.teach import build
from viz.player import player


@pytest.fixture(scope="module")
def seed_page(tmp_path_factory):
    path = tmp_path_factory.mktemp("math") / "seed.html"
    E, names = build("seed", 3)
    return player(E, path, names=names), path


def math_boxes(browser):
    return browser.execute_script("""
        return Array.from(document.querySelectorAll('#panel math')).map(m => {
            const r = m.getBoundingClientRect();
            return {w: r.width, h: r.height, where: m.closest('[id], .input, .acc')?.className || ''}; });""")


@pytest.mark.parametrize("size", [(1024, 768), (1920, 1080)])
def test_formulas_are_rendered_math_with_a_size(browser, seed_page, tmp_path, size):
    p, path = seed_page
    shots = os.environ.get("TINYGRAD_RNN_SCREENSHOTS") or str(tmp_path)
    os.makedirs(shots, exist_ok=True)
    browser.set_window_size(*size)
    browser.get(path.as_uri())
    k = next(s.index for s in p.stepper.steps if s.label == "s_1 @ W_s")   # W_s's term from t=2
    browser.execute_script("window.player.go(arguments[0])", k)
    boxes = math_boxes(browser)
    # the rule, the upstream gradient, one formula per input, W_s's running sum and the one of s_1 @ W_s's input
    assert len(boxes) >= 5
    assert all(b["w"] > 8 and b["h"] > 8 for b in boxes), boxes
    text = browser.execute_script("return document.body.innerText")
    for source in ("\\frac", "\\partial", "\\top", "\\mathrel", "\\odot", "<math", "&lt;"):
        assert source not in text
    # MathML draws a fraction taller than a line of text: the formula really is typeset
    assert browser.execute_script("""const f = document.querySelector('#inputs .formula mfrac');
        return f && f.getBoundingClientRect().height > 20""")
    assert "np.outer(s_1, g)" in text
    browser.save_screenshot(os.path.join(shots, f"player_math_{size[0]}x{size[1]}.png"))
    browser.execute_script("document.getElementById('panel').scrollTop = 10000")
    browser.save_screenshot(os.path.join(shots, f"player_math_sums_{size[0]}x{size[1]}.png"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.set_window_size(1500, 1000)
