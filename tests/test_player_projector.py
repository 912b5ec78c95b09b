"""The player on a projector (1024x768) and a laptop (1920x1080), in headless Chromium: at every step the
current node and the vertices receiving its contributions are in view, "fit" never shrinks the graph's text
below a readable size, the leaves table is one click away, and the strip of ||dE/ds_t|| is on a log scale."""
import math
import os

import pytest

pytest.importorskip("graphviz")

from viz.cli.teach import build
from viz.player import player

SIZES = [(1024, 768), (1920, 1080)]
READABLE_PX = 11


@pytest.fixture
def lstm_page(tmp_path):
    E, names = build("lstm", 3)
    path = tmp_path / "lstm.html"
    return player(E, path, names=names), path


@pytest.fixture
def sized(browser):
    yield browser
    browser.set_window_size(1500, 1000)          # the session's browser goes back to its usual size


def open_at(browser, path, size):
    browser.set_window_size(*size)
    browser.get(path.as_uri())
    assert browser.execute_script("return !!window.player"), "the player's script did not run"
    browser.execute_script("window.player.state.smooth = false")      # scroll at once, so the test reads the end


VIEW = """
const pane = document.getElementById('graph-pane').getBoundingClientRect();
const inside = r => r.left >= pane.left - 1 && r.right <= pane.right + 1 && r.top >= pane.top - 1 &&
                    r.bottom <= pane.bottom + 1;
const cur = document.querySelector('#graph g.pl-current');
const recv = Array.from(document.querySelectorAll('#graph rect.halo-recv')).map(h => h.getBoundingClientRect());
const all = cur ? [cur.getBoundingClientRect()].concat(recv) : recv;
const union = {left: Math.min(...all.map(r => r.left)), right: Math.max(...all.map(r => r.right)),
               top: Math.min(...all.map(r => r.top)), bottom: Math.max(...all.map(r => r.bottom))};
return {current: cur ? inside(cur.getBoundingClientRect()) : null, receivers: recv.map(inside),
        fits: union.right - union.left <= pane.width - 80 && union.bottom - union.top <= pane.height - 80};
"""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_current_node_and_its_receivers_are_in_view_at_every_step(sized, lstm_page, size, shots):
    p, path = lstm_page
    open_at(sized, path, size)
    with_receivers = 0
    for k in range(len(p)):
        sized.execute_script(f"window.player.go({k})")
        view = sized.execute_script(VIEW)
        assert view["current"] is True, (k, view)
        if view["fits"]:
            assert all(view["receivers"]), (k, view)
            with_receivers += bool(view["receivers"])
    assert with_receivers > len(p) // 2            # most steps send a contribution to a vertex, and it was shown
    sized.save_screenshot(os.path.join(shots, f"player_projector_{size[0]}.png"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fit_keeps_text_readable_and_pans_instead(sized, tmp_path, size):
    E, names = build("lstm", 6)
    path = tmp_path / "lstm6.html"
    player(E, path, names=names)
    open_at(sized, path, size)
    sized.find_element("id", "zoom-fit").click()
    got = sized.execute_script("""
        const heights = Array.from(document.querySelectorAll('#graph g.node text:not(.tg-sub):not(.tg-super)'))  // h, not its _1
            .map(t => t.getBoundingClientRect().height).filter(h => h > 0);
        const pane = document.getElementById('graph-pane');
        return {least: Math.min(...heights), zoom: window.player.state.zoom,
                pans: pane.scrollWidth > pane.clientWidth || pane.scrollHeight > pane.clientHeight};""")
    assert got["least"] >= READABLE_PX - 0.5, got
    assert got["pans"], "a graph too large to fit readably is panned, not shrunk"
    sized.find_element("id", "zoom-out").click()
    assert sized.execute_script("return window.player.state.zoom") < got["zoom"]      # zooming out by hand still can


def test_the_leaves_table_is_one_click_away_at_1024(sized, lstm_page):
    p, path = lstm_page
    open_at(sized, path, (1024, 768))
    sized.execute_script("window.player.go(5)")
    sized.find_element("id", "to-leaves").click()
    top = sized.execute_script("""const panel = document.getElementById('panel').getBoundingClientRect();
        const leaves = document.getElementById('leaves').getBoundingClientRect();
        const pane = document.getElementById('graph-pane').getBoundingClientRect();
        return [leaves.top - panel.top, panel.height, pane.width];""")
    assert 0 <= top[0] < top[1] / 2 and top[2] > 400            # the table at the panel's top, the graph still there


def test_the_strip_is_on_a_log_scale(sized, tmp_path):
    E, names = build("rnn", 12)
    path = tmp_path / "rnn12.html"
    p = player(E, path, names=names)
    open_at(sized, path, (1920, 1080))
    sized.execute_script(f"window.player.go({len(p) - 1})")
    got = sized.execute_script("""const row = window.player.data.strip[0];
        return row.cells.map(c => [Number(c.events[c.events.length - 1][1]), Number(c._el.bar.getAttribute('height'))]);""")
    norms = [v for v, _ in got]
    lo, hi = math.log10(min(norms)), math.log10(max(norms))
    assert hi - lo > 1                                          # the norms span more than a decade
    for value, height in got:
        assert height == pytest.approx(2 + 26 * (math.log10(value) - lo) / (hi - lo), abs=1e-6)
    assert min(h for _, h in got) == pytest.approx(2)           # the smallest is still a visible bar


def test_the_step_numbers_under_a_long_strip_do_not_run_together(sized, tmp_path):
    E, names = build("rnn", 200)
    path = tmp_path / "rnn200.html"
    player(E, path, names=names)
    open_at(sized, path, (1920, 1080))
    boxes = sized.execute_script("""return Array.from(document.querySelectorAll('#strip .strip-name'))
        .filter(t => /^\\d+$/.test(t.textContent)).map(t => { const b = t.getBBox(); return [b.x, b.x + b.width]; })
        .sort((a, b) => a[0] - b[0]);""")
    assert len(boxes) >= 10                                     # the hidden steps are still numbered
    assert all(b[0] - a[1] >= 2 for a, b in zip(boxes, boxes[1:])), boxes


def test_every_gradient_starts_clear_of_its_boxs_text(sized, lstm_page):
    """dot measures text narrower than Chromium draws it; a long name's ∇ would touch its last letter."""
    open_at(sized, lstm_page[1], (1920, 1080))
    gaps = sized.execute_script("""
        const out = [];
        document.querySelectorAll('#graph g.node').forEach(g => {
          const ts = Array.from(g.querySelectorAll('text'));
          ts.forEach((a, i) => {
            const b = ts[i + 1], text = a.textContent;
            if (!b || !b.textContent.startsWith('∇') || a.getAttribute('y') !== b.getAttribute('y') ||
                !text.trim() || !a.getNumberOfChars()) return;
            let k = text.length - 1;
            while (k > 0 && /\\s/.test(text[k])) k--;
            const end = a.getExtentOfChar(k);
            out.push([text, parseFloat(b.getAttribute('x')) - (end.x + end.width)]);
          });
        });
        return out;""")
    assert len(gaps) > 20 and any(len(text) > 20 for text, _ in gaps)
    assert min(gap for _, gap in gaps) >= 1.5, sorted(gaps, key=lambda g: g[1])[:3]
