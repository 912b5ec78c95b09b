"""The payload battery in headless Chromium: one player page whose every name, scope, op, rule and the loss carry
the payloads of tests/payloads.py, driven through every button and key. Nothing may run (no alert, the sentinel
window.__pwned stays unset, no element or event attribute from a payload appears), the console stays clean and
the page still walks the graph. Run once as written (with its Content-Security-Policy) and once with the policy
removed, so that the escaping is tested on its own and not only the policy behind it."""
import json
import time

import pytest

pytest.importorskip("graphviz")

from viz.dot import visible
from viz.player import player

from payloads import LOSS, PAYLOADS, payload_graph

SENTINEL = """
    window.__pwned = undefined;
    for (const f of ['alert', 'confirm', 'prompt', 'print'])
        window[f] = function () { window.__pwned = f; };
"""

# every element and attribute that must not come from data: what the page itself has is counted separately
INJECTED = """
    const bad = [];
    for (const el of document.querySelectorAll('*')) {
        const tag = el.localName;
        const tooltip = tag === 'a' && el.closest('svg') && el.attributes.length === 1 &&
                        el.attributes[0].name === 'xlink:title';          // graphviz's hover text, inert
        if (['img', 'iframe', 'object', 'embed', 'a', 'image', 'foreignobject', 'form', 'base', 'link', 'meta']
                .includes(tag) && !(tag === 'meta' && el.parentNode === document.head) && !tooltip)
            bad.push(tag);
        for (const a of el.attributes)
            if (/^on/i.test(a.name) || /href$/i.test(a.name) || a.name === 'style' && el.closest('#panel'))
                bad.push(tag + '[' + a.name + ']');
    }
    return {bad: bad, scripts: document.scripts.length};
"""

# at the current step: every button in the panel (check, check-leaf, reveal, and whatever the panel grows), every
# <details> opened, a hostile guess typed into every quiz field
PANEL_BUTTONS = """
    const guess = arguments[0];
    for (const d of document.querySelectorAll('#panel details')) d.open = true;
    for (const inp of document.querySelectorAll('#panel input.guess')) {
        inp.value = guess; inp.dispatchEvent(new Event('input', {bubbles: true}));
    }
    let clicked = 0;
    for (let i = 0; i < 40; i++) {
        const buttons = document.querySelectorAll('#panel button');
        if (i >= buttons.length) break;
        buttons[i].click(); clicked++;
    }
    return clicked;
"""
# steps `from` to `to` - 1 by the next button: the step and op each shows; the panel's buttons at `pressed` steps
WALK = """
    const [from, to, pressed, guess] = arguments, seen = [], press = new Function(PANEL_BUTTONS);
    for (let k = from; k < to; k++) {
        document.getElementById('next').click();
        if (pressed.includes(k)) { press(guess); window.player.go(k); }    // a term's factors jump elsewhere
        seen.push([Number(document.body.getAttribute('data-step')),
                   document.getElementById('panel-op').textContent]);
    }
    return seen;
""".replace("PANEL_BUTTONS", json.dumps(PANEL_BUTTONS))   # its `arguments[0]` is then press's own argument

# the forward pass, one vertex at a time: the panels it shows for every third vertex
FORWARD = "const n = window.player.data && Object.keys(window.player.data.vertices).length;" \
          "for (let j = 0; j < n; j += 3) window.player.forward(j);"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    where = tmp_path_factory.mktemp("payloads")
    loss, names = payload_graph()
    p = player(loss, where / "payloads.html", names=names, title=LOSS, check="all")
    bare = where / "payloads-no-csp.html"
    html = p.html
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    bare.write_text(html[:start] + html[html.index(">", start) + 1:], encoding="utf-8")
    return p, {"csp": where / "payloads.html", "no-csp": bare}


def severe(browser):
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def assert_nothing_ran(browser, when):
    from selenium.common.exceptions import NoAlertPresentException
    try:
        text = browser.switch_to.alert.text
        pytest.fail(f"an alert ({text!r}) {when}")
    except NoAlertPresentException:
        pass
    assert browser.execute_script("return window.__pwned") is None, f"a payload ran {when}"
    found = browser.execute_script(INJECTED)
    assert found["bad"] == [] and found["scripts"] == 2, f"{when}: {found}"


@pytest.mark.parametrize("variant", ["csp", "no-csp"])
def test_payloads_never_run_and_the_page_works(browser, pages, variant, shots):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    p, paths = pages
    n = len(p)
    hook = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SENTINEL})
    try:
        browser.get(paths[variant].as_uri())
        assert browser.execute_script("return !!window.player"), "the player's script did not run"
        browser.get_log("browser")
        assert_nothing_ran(browser, "on load")

        def click(element_id):
            browser.find_element(By.ID, element_id).click()

        def step():
            return browser.execute_script("return Number(document.body.getAttribute('data-step'))")

        guess = "'\"><img src=x onerror=window.__pwned=1>" + PAYLOADS[4]
        browser.execute_script(PANEL_BUTTONS, guess)             # the start page: its leaves table, checks
        # without the policy the walk goes through the last time step, where every payload is in every role (the
        # escaping alone must hold); with it, far enough to see that the page works
        walked = n // 2 + 4 if variant == "no-csp" else 8
        pressed = sorted({0, 1, 2, n // 2} | set(range(0, n, 12)))
        for k in range(3):                                       # real clicks, then the rest in one script
            click("next")
            assert step() == k
        browser.set_script_timeout(300)
        seen = browser.execute_script(WALK, 3, walked, pressed, guess)
        assert [k for k, _ in seen] == list(range(3, walked))
        for k, shown_op in seen:
            assert shown_op[:50] == visible(p.data["steps"][k]["op"], None)[:50]
        assert_nothing_ran(browser, "after next at every step, check and reveal at many")

        click("last")
        assert step() == n - 1
        browser.execute_script(PANEL_BUTTONS, guess)
        click("quiz")                                            # the quiz: guesses typed, revealed, compared
        for element_id in ("first", "next", "next", "prev", "next"):
            click(element_id)
            browser.execute_script(PANEL_BUTTONS, guess)
        click("quiz")
        for element_id in ("last", "zoom-in", "zoom-out", "zoom-fit", "first"):
            click(element_id)
        assert step() == -1
        keys = ActionChains(browser)
        keys.send_keys(Keys.ARROW_RIGHT * 3 + Keys.ARROW_LEFT + Keys.END + Keys.HOME + "q" + Keys.ARROW_RIGHT + "q")
        keys.perform()                                           # 0 1 2 1 end start, quiz on, 0, quiz off
        assert step() == 0
        browser.execute_script("const s = document.getElementById('slider'); s.value = 5;"
                               "s.dispatchEvent(new Event('input', {bubbles: true}));")
        assert step() == 5
        click("play")
        time.sleep(2.0)                                          # play advances by itself, then pause
        ActionChains(browser).send_keys(" ").perform()
        assert step() > 5
        browser.execute_script(FORWARD)
        click("forward")                                         # play with the forward pass first, fast
        browser.execute_script("const s = document.getElementById('speed'); s.selectedIndex = s.options.length - 1;"
                               "s.dispatchEvent(new Event('change', {bubbles: true}));")
        click("first")
        click("play")
        time.sleep(1.0)
        click("play")
        browser.execute_script("""const nodes = document.querySelectorAll('#graph g.node');   // a click jumps
                                  for (let i = 0; i < nodes.length; i += 15)
                                      nodes[i].dispatchEvent(new MouseEvent('click', {bubbles: true}));""")
        assert_nothing_ran(browser, "after every button and key")
        assert severe(browser) == []
        browser.save_screenshot(f"{shots}/payloads-{variant}.png")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": hook["identifier"]})
