"""User text reaching DOT, SVG and the HTML player is escaped for each: the payloads of tests/payloads.py in every
name-bearing place draw as literal text, make no element or attribute of their own, and never break `dot`."""
import base64
import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("graphviz")

import tinygrad_rnn as tg
import viz
from viz.dot import MAX_TIP_LINE, escape, visible
from viz.player import player, script_json

from payloads import EVIL_SCOPE, LOSS, PAYLOADS, TIME_SCOPE, payload_graph

FORBIDDEN_TAGS = {"script", "foreignObject", "iframe", "image", "img", "use", "animate", "set"}
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"


def local(name):
    return name.rsplit("}", 1)[-1]


def assert_inert_svg(svg):
    """The SVG parses as XML and holds no element or attribute that runs script or links anywhere."""
    root = ET.fromstring(svg[svg.index("<svg"):])
    for el in root.iter():
        assert local(el.tag) not in FORBIDDEN_TAGS, f"a <{local(el.tag)}> element in the SVG"
        if local(el.tag) == "a":                    # graphviz's tooltip: an anchor with a title and nothing else
            assert list(el.attrib) == [XLINK_TITLE], el.attrib
        for attr in el.attrib:
            assert not local(attr).lower().startswith("on"), f"an event attribute {attr} in the SVG"
            assert local(attr).lower() != "href", f"a link ({attr}={el.attrib[attr]!r}) in the SVG"
    return root


def svg_texts(root):
    return ["".join(t.itertext()) for t in root.iter() if local(t.tag) == "text"]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: repr(p[:20]))
def test_each_payload_draws_as_literal_text(payload):
    loss, names = payload_graph([payload])
    graph = viz.draw(loss, title=payload)
    # no link attribute in the DOT source (escaped text may spell `URL=&quot;`, with no quote or `<`)
    assert not re.search(r"\b(URL|href|target)\s*=\s*[\"<]", graph.source, re.I)
    root = assert_inert_svg(viz.pipe(graph, "svg").decode("utf-8"))
    texts = "\n".join(svg_texts(root))
    assert visible(payload) in texts                  # a name, the scope and the title are drawn, as text
    tips = [el.get(XLINK_TITLE) for el in root.iter() if local(el.tag) == "a"]
    assert any(tip.split("\n")[0] == visible(payload, MAX_TIP_LINE) for tip in tips)     # the hover text, literally
    assert len(max(svg_texts(root), key=len)) < 400   # a 20,000-character name is shortened for display


def test_all_payloads_at_once_draw_and_the_scopes_are_clusters():
    loss, names = payload_graph()
    root = assert_inert_svg(viz.pipe(viz.draw(loss, detail="ops"), "svg").decode("utf-8"))
    texts = svg_texts(root)
    assert texts.count(visible(EVIL_SCOPE)) >= 3        # the scope cluster at each step, the op name, the leaf
    for p in PAYLOADS:
        assert any(visible(p) in t for t in texts), p


def test_escape_is_one_line_bounded_and_literal():
    assert visible("a\x00b\nc\u2028d\ud800\u202e") == "a\\x00b\\nc\\u2028d\\ud800\\u202e"
    long = visible("x" * 20000)
    assert len(long) == 80 and "…" in long
    assert escape("<B>\\N & 'q'") == "&lt;B&gt;\\\\N &amp; &#x27;q&#x27;"
    ids = {viz.view.slug("L" * 20000), viz.view.slug("L" * 20000 + "M")}
    assert len(ids) == 2 and all(len(i) <= 48 for i in ids)


def test_a_failing_dot_is_a_clear_error():
    import graphviz
    with pytest.raises(viz.DotFailed, match="dot could not draw.*syntax error"):
        viz.pipe(graphviz.Source("digraph { a -> }"), "svg")


# ---- the player's page ---------------------------------------------------------------------------

def test_embedded_data_cannot_end_its_script_element():
    data = {"names": PAYLOADS + [LOSS], "n": [1.5, "NaN"]}
    text = script_json(data)
    assert not re.search("[<>&\u2028\u2029]", text)
    assert json.loads(text) == data


def test_the_page_allows_only_its_own_script_and_style():
    loss, names = payload_graph(PAYLOADS[:3])
    page = player(loss, names=names, title=LOSS, check="none").html
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)[1]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    for body, kind in ((scripts[0], "script-src"), (styles[0], "style-src")):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        assert f"{kind} 'sha256-{digest}'" in csp
    tags, attrs = markup_of(page)
    assert tags.count("script") == 2 and not set(tags) & (FORBIDDEN_TAGS - {"script"})
    assert not [a for a in attrs if a.startswith("on") or a in ("href", "xlink:href", "src", "style")]
    assert "<title>E&lt;/script&gt;" in page


def markup_of(page):
    """Every start tag and every attribute name of the page, as an HTML parser reads them."""
    from html.parser import HTMLParser
    tags, attrs = [], []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attributes):
            tags.append(tag)
            attrs.extend(name for name, _ in attributes)
    Reader().feed(page)
    return tags, attrs


def test_player_validates_every_argument_before_the_walk():
    loss, names = payload_graph(PAYLOADS[:2])
    bad = [dict(eps=0), dict(eps=float("nan")), dict(eps=-1e-6), dict(eps="1e-6"), dict(title=5),
           dict(check_elements=0), dict(max_steps=0), dict(check="some"), dict(detail="x"), dict(names=[1]),
           dict(retain_graph="yes")]
    for kwargs in bad:
        with pytest.raises((TypeError, ValueError), match="player: "):
            player(loss, **({"names": names} | kwargs))
    p = player(loss, names=names, check="none")    # the graph was not freed by the refusals
    assert len(p) == p.stepper.total


def test_player_shows_nan_and_inf_gradients():
    W = tg.Tensor(np.array([[1.0, 2.0], [0.0, 1.0]]), requires_grad=True, name="W")
    h = tg.Tensor(np.zeros((1, 2)), name="h_0")
    with np.errstate(all="ignore"):                 # log(0) = -inf: the gradients are inf and nan
        for t in (1, 2):
            with tg.scope(f"t={t}"):
                h = (tg.Tensor(np.array([[0.0, 1.0]])) + h @ W).log()
                h.name = f"h_{t}"
        p = player(h.sum(), names={"W": W}, check="leaves")
    grads = [s["grad"]["norm"] for s in p.data["steps"]]
    assert any(isinstance(g, str) and g in ("NaN", "Infinity") for g in grads)
    assert not math.isfinite(np.linalg.norm(W.grad))
    assert "∇ nan" in p.html or "∇ inf" in p.html


def test_a_scope_like_a_time_step_is_not_one():
    W = tg.Tensor(np.eye(2) * 0.5, requires_grad=True, name="W")
    h = tg.Tensor(np.ones((1, 2)), name="h_0")
    for scope, name in (("t=1a", "h_1"), (TIME_SCOPE, "h_1"), ("t=1", "h_1"), ("t=2", "h_2")):
        with tg.scope(scope):
            h = (h @ W).tanh()
            h.name = name
    p = player(h.sum(), names={"W": W})
    assert [(c["t"], c["label"]) for row in p.data["strip"] for c in row["cells"]] == [(1, "h_1"), (2, "h_2")]
