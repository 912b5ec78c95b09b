"""The folded view (viz.draw(loss, folded=True), viz/folded.py) escapes user text as the unrolled one does: the
payloads of tests/payloads.py in every name-bearing place draw as literal text and make no element of their own."""
import re

import pytest

pytest.importorskip("graphviz")

import viz
from viz.dot import MAX_TIP_LINE, visible

from payloads import EVIL_SCOPE, PAYLOADS, payload_graph
from test_escaping import XLINK_TITLE, assert_inert_svg, svg_texts


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: repr(p[:20]))
def test_each_payload_draws_as_literal_text_folded(payload):
    loss, names = payload_graph([payload], steps=3)
    loss.backward(keep_grads=True)
    graph = viz.draw(loss, folded=True, title=payload)
    assert not re.search(r"\b(URL|href|target)\s*=\s*[\"<]", graph.source, re.I)
    root = assert_inert_svg(viz.pipe(graph, "svg").decode("utf-8"))
    tips = [el.get(XLINK_TITLE).split("\n")[0] for el in root.iter() if el.tag.endswith("}a")]
    assert visible(payload, MAX_TIP_LINE) in tips                     # the weight's hover text, literally
    texts = svg_texts(root)
    joined = "\n".join(texts)
    assert visible(payload) in joined                 # the weight's name, the op, the gate's scope and the title
    assert any(visible(EVIL_SCOPE) in t for t in texts)    # the loop's scope, in its label
    assert len(max(texts, key=len)) < 400


def test_all_payloads_at_once_draw_folded():
    loss, names = payload_graph(steps=3)
    loss.backward(keep_grads=True)
    root = assert_inert_svg(viz.pipe(viz.draw(loss, folded=True), "svg").decode("utf-8"))
    texts = svg_texts(root)
    for p in PAYLOADS:
        assert any(visible(p) in t for t in texts), p
