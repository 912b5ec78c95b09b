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


OVERFLOW = """
    const panel = document.getElementById('panel'), bad = [];
    const box = panel.getBoundingClientRect(), right = box.left + panel.clientWidth - 2;   // inside the scrollbar
    for (let k = 0; k < window.player.data.total; k++) {
        window.player.go(k);
        if (panel.scrollWidth > panel.clientWidth) bad.push([k + 1, 'the panel scrolls sideways']);
        for (const el of panel.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > right)
                bad.push([k + 1, el.localName, el.textContent.slice(0, 60), r.right - right]);
        }
    }
    return bad;"""


@pytest.mark.parametrize("size", [(1024, 768), (1920, 1080)])
def test_wide_formulas_wrap_inside_the_panel(browser, tmp_path, size):
    """A formula wider than the panel wraps at its relations and operators and between the words of its text,
    as prose does: at no step does anything in the panel reach past its right edge, and nothing scrolls sideways."""
    E, names = build("gru", 3)
    path = tmp_path / "gru.html"
    p = player(E, path, names=names)
    browser.set_window_size(*size)
    browser.get(path.as_uri())
    assert browser.execute_script(OVERFLOW) == []
    k = next(s["i"] for s in p.data["steps"] if any("selected" in (e.get("mathml") or "") for e in s["inputs"]))
    browser.execute_script("window.player.go(arguments[0])", k)
    words = browser.execute_script("""
        const f = Array.from(document.querySelectorAll('#inputs .formula .math')).find(
            m => m.textContent.includes('selected'));
        return [f.textContent.replace(/\\s/g, ''), Array.from(f.querySelectorAll('math')).map(
            m => Math.round(m.getBoundingClientRect().top)).filter((t, i, all) => all.indexOf(t) === i).length];""")
    want = next(e["mathml"] for e in p.data["steps"][k]["inputs"] if "selected" in (e.get("mathml") or ""))
    text = browser.execute_script("return new DOMParser().parseFromString(arguments[0], 'text/html').body"
                                  ".textContent.replace(/[\\s\\u00a0]/g, '')", want)
    assert words[0] == text                                  # the same formula, word for word
    assert words[1] >= 2                                     # on two lines or more
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.set_window_size(1500, 1000)
