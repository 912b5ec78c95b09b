"""The quiz teaches: numeric guesses show the operands they need (a matmul's weight: the other input), questions
made from the graph (which weight receives a term, is this contribution exactly zero -- as f_1's with c_0 = 0 --,
which term of formula (2) is the smallest and why) are checked in the page, and a score is kept to the end."""
import os

import numpy as np
import pytest

pytest.importorskip("graphviz")

from tinygrad_rnn.teach.stepper import norm
from viz.cli.teach import build
from viz.player import FULL, VALUES, player
from viz.quiz import NONE, needs


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    where = tmp_path_factory.mktemp("quiz")
    out = {}
    for model in ("seed", "lstm"):
        E, names = build(model, 3 if model == "seed" else 2)
        out[model] = (player(E, where / f"{model}.html", names=names, check="none"), where / f"{model}.html")
    return out


def test_questions_are_made_from_the_walk(pages):
    p, _ = pages["seed"]
    qs, steps = p.data["questions"], p.stepper.steps
    leaf_qs = [q for q in qs if q["kind"] == "leaf"]
    assert [q["step"] for q in leaf_qs] == list(range(1, len(steps)))        # one per step after the loss
    for q in leaf_qs:
        got = sorted({a.name for a in steps[q["step"]].accumulations if a.kind == "leaf"}) or [NONE]
        assert sorted(q["answer"]) == got and set(q["answer"]) <= set(q["options"])
    smallest = {q["text"].split("∂E_3/∂")[1].split(" ")[0]: q for q in qs if q["kind"] == "smallest"}
    assert set(smallest) == {"W_s", "W_x"}                                   # W_y is used once
    for leaf, q in smallest.items():
        terms = [t for t in p.data["terms"] if t["leaf"] == leaf]
        assert q["answer"] == [terms[int(np.argmin([t["value"]["norm"] for t in terms]))]["when"]]
        assert q["step"] == max(t["step"] for t in terms) and "‖term‖" in q["why"]
    # what a contribution needs besides the upstream gradient: a matmul's other input, tanh's output
    matmul = next(s for s in steps if s.label == "s_1 @ W_s")
    assert needs(matmul, 0) == ["b"] and needs(matmul, 1) == ["a"]
    assert needs(next(s for s in steps if s.op == "tanh"), 0) == ["y"]


def test_reasons_write_contributions_as_the_panel_does(pages):
    """A reason quotes the contribution's numpy code as the panel shows it -- correct for the seed's 1-D rows
    (np.outer, never s.T @ g, an inner product) -- and gradients with the loss's name, ∂E_3/∂."""
    p, _ = pages["seed"]
    shown = {(s["i"], j): e["formula"] for s in p.data["steps"] for j, e in enumerate(s["inputs"])}
    zero = [q for q in p.data["questions"] if q["kind"] == "zero"]
    assert any("`np.outer(s_0, g)`" in q["why"] for q in zero)
    for q in zero:
        assert f"`{shown[q['step'], q['input']]}`" in q["why"] and ".T @ g" not in q["why"]
    texts = " ".join(q["text"] + q["why"] for q in p.data["questions"])
    assert "∂E_3/∂W_s" in texts and "∂E/∂" not in texts


def test_an_exactly_zero_contribution_is_asked_with_its_reason(pages):
    p, _ = pages["lstm"]
    zero = [q for q in p.data["questions"] if q["kind"] == "zero"]
    f_1 = next(q for q in zero if q["text"].endswith("sent to f_1 at this step be exactly zero?"))
    assert f_1["answer"] == ["yes"] and "c_0 is all zeros" in f_1["why"]
    step = p.stepper.steps[f_1["step"]]
    assert not np.any(next(e.grad for e in step.inputs if e.name == "f_1"))
    nonzero = [q for q in zero if q["answer"] == ["no"]]
    assert nonzero                                                             # "yes" is not always right
    for q in nonzero:
        e = p.stepper.steps[q["step"]].inputs[q["input"]]
        assert np.any(e.grad) and f"{norm(e.grad):.4g}" in q["why"]


def click_answer(browser, q, option):
    from selenium.webdriver.common.by import By
    i = q["options"].index(option)
    browser.find_element(By.CSS_SELECTOR, f"button.answer[data-q='{q['id']}'][data-o='{i}']").click()


def test_the_quiz_in_the_page_checks_answers_and_keeps_a_score(browser, pages, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    p, path = pages["seed"]
    browser.get(path.as_uri())
    browser.find_element(By.ID, "quiz").click()
    steps, qs = p.stepper.steps, p.data["questions"]
    k = next(s.index for s in steps if s.label == "s_1 @ W_s")
    browser.execute_script("window.player.go(arguments[0])", k)
    # the numeric guess for W_s's share shows what it needs: s_1's value (the other input), not W_s's own
    inputs = browser.find_elements(By.CSS_SELECTOR, "#inputs .input")
    need = inputs[1].find_element(By.CSS_SELECTOR, ".needs").text
    s_1 = steps[k].inputs[0].tensor.data
    assert " ".join(need.split()).startswith("you need the upstream gradient (above) and s1 (3) = [")
    assert f"{s_1[0]:.4g}"[:5] in need and "W" not in need.split("=")[0]
    here = [q for q in qs if q["step"] == k]
    leaf = next(q for q in here if q["kind"] == "leaf")
    click_answer(browser, leaf, "W_s")
    block = browser.find_element(By.CSS_SELECTOR, f".question[data-q='{leaf['id']}']")
    why = block.find_element(By.CSS_SELECTOR, ".why.ok")          # names with subscripts, the label as code
    assert why.text.startswith("✓ Ws is an input of s_1 @ W_s")
    assert why.find_element(By.TAG_NAME, "sub").text == "s"
    assert why.find_element(By.TAG_NAME, "code").text == "s_1 @ W_s"
    assert [b.text for b in block.find_elements(By.CSS_SELECTOR, "button.answer")] == ["Wx", "Ws", "Wy", "none of them"]
    assert len(block.find_elements(By.CSS_SELECTOR, "button.answer[disabled]")) == len(leaf["options"])
    zero = next(q for q in here if q["kind"] == "zero")
    click_answer(browser, zero, "yes")                                        # wrong: it is not zero
    assert browser.find_element(By.CSS_SELECTOR, f".question[data-q='{zero['id']}'] .why.bad").text.startswith("✗ No:")
    assert "score: 1 / 2 answered correctly" in browser.find_element(By.ID, "quiz-score").text
    # the smallest term of formula (2), asked where W_s's last term arrives
    small = next(q for q in qs if q["kind"] == "smallest" and "W_s" in q["text"])
    browser.execute_script("window.player.go(arguments[0])", small["step"])
    click_answer(browser, small, small["answer"][0])
    assert "‖term‖" in browser.find_element(By.CSS_SELECTOR, f".question[data-q='{small['id']}'] .why.ok").text
    # a numeric guess counts once revealed: W_x's share at this step, exactly right
    j = next(i for i, e in enumerate(steps[small["step"]].inputs) if e.kind != "const" and e.grad is not None)
    guess = browser.find_element(By.CSS_SELECTOR, f"input.guess[data-j='{j}']")
    guess.send_keys(", ".join(f"{v:.6g}" for v in steps[small["step"]].inputs[j].grad.reshape(-1)[:3]))
    guess.send_keys(Keys.ENTER)
    browser.execute_script("window.player.go(arguments[0])", len(steps) - 1)
    end = browser.find_element(By.ID, "quiz-score").text
    assert "score: 3 / 4 answered correctly" in end
    shots = os.environ.get("TINYGRAD_RNN_SCREENSHOTS") or str(tmp_path)
    os.makedirs(shots, exist_ok=True)
    browser.save_screenshot(os.path.join(shots, "player_quiz_end.png"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_guess_shows_every_entry_of_the_operands_it_needs(browser, pages, tmp_path):
    """To guess g @ W_sᵀ the learner needs all of W_s: a small array is shown whole, as a matrix with its shape,
    never all but one entry of it flattened."""
    from selenium.webdriver.common.by import By
    p, path = pages["seed"]
    browser.set_window_size(1024, 768)
    try:
        browser.get(path.as_uri())
        browser.find_element(By.ID, "quiz").click()
        k = next(s.index for s in p.stepper.steps if s.label == "s_2 @ W_s")
        browser.execute_script("window.player.go(arguments[0])", k)
        need = browser.find_element(By.CSS_SELECTOR, "#inputs .input[data-pos='0'] .needs")
        assert "Ws (3×3) = [[" in " ".join(need.text.split())
        rows = [[float(v.strip(",").replace("\u00a0", "")) for v in row.split()] for row in
                browser.execute_script("return Array.from(arguments[0].querySelectorAll('.mat > div')).map("
                                       "d => Array.from(d.querySelectorAll('.v')).map(v => v.textContent).join(' '))",
                                       need)]
        W_s = p.stepper.steps[k].inputs[1].tensor.data
        np.testing.assert_allclose(rows, W_s, rtol=5e-4)                 # every entry, row by row
        shots = os.environ.get("TINYGRAD_RNN_SCREENSHOTS") or str(tmp_path)
        os.makedirs(shots, exist_ok=True)
        browser.save_screenshot(os.path.join(shots, "player_quiz_needs_1024.png"))
        elided = browser.execute_script("""const out = [];
            for (let k = 0; k < window.player.data.total; k++) {
                window.player.go(k);
                for (const m of document.querySelectorAll('#panel .more'))
                    out.push(Number(m.textContent.split(' ')[1]));
            }
            return out;""")
        assert all(n + VALUES > FULL for n in elided), elided            # only large arrays are cut short
    finally:
        browser.set_window_size(1500, 1000)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_lstm_quiz_asks_why_f_1_gets_nothing(browser, pages, tmp_path):
    from selenium.webdriver.common.by import By
    p, path = pages["lstm"]
    browser.set_window_size(1024, 768)
    try:
        browser.get(path.as_uri())
        browser.find_element(By.ID, "quiz").click()
        q = next(q for q in p.data["questions"] if q["kind"] == "zero" and "f_1" in q["text"] and q["answer"] == ["yes"])
        browser.execute_script("window.player.go(arguments[0])", q["step"])
        click_answer(browser, q, "yes")
        why = browser.find_element(By.CSS_SELECTOR, f".question[data-q='{q['id']}'] .why.ok")
        assert "c0 is all zeros" in why.text and why.size["height"] > 10
        shots = os.environ.get("TINYGRAD_RNN_SCREENSHOTS") or str(tmp_path)
        os.makedirs(shots, exist_ok=True)
        browser.save_screenshot(os.path.join(shots, "player_quiz_lstm_1024.png"))
    finally:
        browser.set_window_size(1500, 1000)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_an_ops_rule_in_a_reason_is_prose_not_code(pages):
    """Where an op has no numpy formula (an op outside the table) the reason quotes its rule as text."""
    from viz.quiz import _zero_question
    p, _ = pages["lstm"]
    step = next(s for s in p.stepper.steps if s.inputs)
    e = step.inputs[0]
    for formula, shown in ((lambda s, pos: s.rule, step.rule), (lambda s, pos: "g * b", "`g * b`")):
        why = _zero_question(step, e, [i.name for i in step.inputs], "E_3", formula)["why"]
        assert shown in why and (shown.startswith("`") or f"`{step.rule}`" not in why)
