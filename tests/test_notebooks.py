"""The notebooks under docs/notebooks/: built from their text sources, executed with nbclient (the solutions
build with every exercise's check passing, the student build stopping only at its unanswered exercises), and
nbconvert's HTML of each opened in headless Chromium, where the inline player and the pictures must work.
CI sets TINYGRAD_RNN_REQUIRE_NOTEBOOKS=1 (and ..._BROWSER=1): a missing Jupyter piece is a failure there.
Screenshots go to $TINYGRAD_RNN_SCREENSHOTS (or pytest's tmp dir)."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "docs" / "notebooks"


def _load_build():
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nb_build = _load_build()
STEMS = [source.stem for source in nb_build.sources()]
_executed = {}


def executed(stem, kind):
    """The built and executed notebook (each is run once per test session)."""
    if (stem, kind) not in _executed:
        nb = nb_build.build(NOTEBOOKS / f"{stem}.py", solutions=kind == "solutions")
        _executed[stem, kind] = nb_build.execute(nb)
    return _executed[stem, kind]


def executed_cells(stem, kind):
    """The code cells of the executed notebook, each of which must have run."""
    cells = code_cells(executed(stem, kind))
    assert all(cell.execution_count for cell in cells), "a cell did not run"
    return cells


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def is_exercise(cell):
    return nb_build.EXERCISE in cell.metadata.get("tags", [])


def errors(cell):
    return [out for out in cell.outputs if out.output_type == "error"]


def text(cell):
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


def test_there_are_five_notebooks_each_with_exercises(jupyter):
    assert STEMS == ["01_bptt_from_the_tape", "02_your_own_loop", "03_vanishing_and_exploding",
                     "04_lstm_and_gru_gates", "05_charlm_truncated_bptt"]
    for stem in STEMS:
        nb = nb_build.build(NOTEBOOKS / f"{stem}.py", solutions=True)
        assert sum(map(is_exercise, code_cells(nb))) >= 3, f"{stem}: fewer than 3 exercises"


MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)


def test_formulas_in_the_text_are_latex_that_renders(jupyter):
    """The formulas of the text are LaTeX between $ signs (MathJax in Jupyter, MathML in the HTML), each one
    convertible; the notebooks that state equations show them as display math, not as indented plain text."""
    from viz.mathml import to_mathml
    shown = {}
    for stem in STEMS:
        nb = nb_build.build(NOTEBOOKS / f"{stem}.py", solutions=True)
        markdown = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
        for m in MATH.finditer(markdown):
            assert to_mathml(m[1] or m[2], display=m[1] is not None), f"{stem}: {m[0][:80]}"
        shown[stem] = markdown.count("$$") // 2
        plain = [f for f in ("∂E_3/∂W_s = ", "c_t = f_t ⊙", "s_t = tanh(") if f in markdown]
        assert not plain, f"{stem}: a formula as plain text: {plain}"
    assert shown["01_bptt_from_the_tape"] >= 3          # the network, formulas (1) and (2)
    assert shown["03_vanishing_and_exploding"] >= 1 and shown["04_lstm_and_gru_gates"] >= 2


def test_only_text_sources_are_committed():
    """The .py sources are the notebooks; built .ipynb (and their outputs) live in the ignored _build folder."""
    assert not list(NOTEBOOKS.glob("*.ipynb"))
    ignored = subprocess.run(["git", "check-ignore", "-q", str(NOTEBOOKS / "_build" / "x.ipynb")], cwd=ROOT)
    assert ignored.returncode == 0, "docs/notebooks/_build/ must be in .gitignore"


@pytest.mark.parametrize("stem", STEMS)
def test_student_build_hides_the_solutions(jupyter, stem):
    source = (NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8")
    student = nb_build.build(NOTEBOOKS / f"{stem}.py", solutions=False)
    solutions = nb_build.build(NOTEBOOKS / f"{stem}.py", solutions=True)
    for cell in code_cells(student) + code_cells(solutions):
        assert nb_build.BEGIN not in cell.source and nb_build.END not in cell.source
        assert cell.outputs == [] and cell.execution_count is None
    answers = [line for chunk in source.split(nb_build.BEGIN)[1:] for line in chunk.split(nb_build.END)[0].split("\n")
               if line.strip()]
    assert answers
    student_code = "\n".join(cell.source for cell in code_cells(student))
    solution_code = "\n".join(cell.source for cell in code_cells(solutions))
    for line in answers:
        assert line in solution_code
    assert not [line for line in answers if line in student_code.split("\n")], "an answer line is in the student build"
    for s_cell, t_cell in zip(code_cells(student), code_cells(solutions)):
        tags = s_cell.metadata.get("tags", [])
        assert (nb_build.TOLERATED in tags) == is_exercise(t_cell)


def test_a_misplaced_marker_is_a_build_error(jupyter, tmp_path):
    bad = tmp_path / "01_bad.py"
    bad.write_text("# %%\nx = ...\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", encoding="utf-8")
    with pytest.raises(nb_build.BuildError, match="not tagged 'exercise'"):
        nb_build.build(bad, solutions=True)
    bad.write_text('# %% tags=["exercise"]\nx = ...\n# END SOLUTION\nx = 1\n# BEGIN SOLUTION\n', encoding="utf-8")
    with pytest.raises(nb_build.BuildError, match="one '# BEGIN SOLUTION' line"):
        nb_build.build(bad, solutions=False)


@pytest.mark.parametrize("stem", STEMS)
def test_solutions_run_and_every_check_passes(jupyter, stem):
    cells = executed_cells(stem, "solutions")
    for cell in cells:
        assert not errors(cell), cell.source
    exercises = [cell for cell in cells if is_exercise(cell)]
    for cell in exercises:
        assert "✔" in text(cell) and "correct" in text(cell), f"no passing check printed by:\n{cell.source}"
    assert f"{len(exercises)} of {len(exercises)} exercises passed" in text(cells[-1])


@pytest.mark.parametrize("stem", STEMS)
def test_student_build_stops_only_at_unanswered_exercises(jupyter, stem):
    cells = executed_cells(stem, "student")
    for cell in cells:
        if is_exercise(cell):
            assert [e.ename for e in errors(cell)] == ["NotAnswered"], cell.source
            assert "is not answered yet: replace the ..." in errors(cell)[0].evalue
        else:
            assert not errors(cell), cell.source
    exercises = sum(map(is_exercise, cells))
    assert f"0 of {exercises} exercises passed" in text(cells[-1])


def test_a_wrong_answer_fails_with_the_differing_number(jupyter):
    from tinygrad_rnn.teach import exercises as ex
    ex.reset()
    with pytest.raises(ex.NotAnswered, match="1.1 is not answered yet"):
        ex.check_array("1.1", ..., [1.0, 2.0])
    with pytest.raises(ex.WrongAnswer, match=r"differs from the tape's at index \(1,\): yours 2.5, the tape's 2"):
        ex.check_array("1.2", [1.0, 2.5], [1.0, 2.0])
    with pytest.raises(ex.WrongAnswer, match=r"has shape \(3,\); the tape's has shape \(2,\)"):
        ex.check_array("1.3", [1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ex.WrongAnswer, match="is not the answer"):
        ex.check_choice("1.4", "b", ["a", "b"], ex.digest("1.4", "a"))
    ex.check_choice("1.5", " A ", ["a", "b"], ex.digest("1.5", "a"))
    with pytest.raises(ex.WrongAnswer, match="should be one number"):
        ex.check_number("1.6", [3], 3)
    with pytest.raises(ex.WrongAnswer, match="this should hold and does not: odd"):
        ex.check_true("1.7", 4, lambda n: n % 2 == 1, "odd")
    with pytest.raises(ex.WrongAnswer, match=r"checking your answer failed \(TypeError: .*should be a number, got '3'"):
        ex.check_true("1.8", "3", lambda b: b + 1.0 > 0, "positive", what="a number")    # not a bare traceback
    with pytest.raises(ex.WrongAnswer, match=r"checking your answer failed \(ValueError: The truth value"):
        ex.check_true("1.9", np.array([1.0, -2.0]), lambda a: a > 0, "positive")      # an array, not a verdict


def test_the_score_counts_an_exercise_whose_cell_stopped_before_its_check(capsys):
    from tinygrad_rnn.teach import exercises as ex
    ex.reset()
    ex.check_number("4.1", 2.0, 2.0)
    with pytest.raises(ex.NotAnswered):
        ex.check_number("4.2", ..., 2.0)
    capsys.readouterr()
    ex.score("4.1", "4.2", "4.3")                      # 4.3's cell raised before it reached ex.check_...
    said = capsys.readouterr().out
    assert "4.3: … not checked" in said and "4.2: … not answered" in said and "1 of 3 exercises passed" in said


def test_build_script_writes_both_builds(jupyter, tmp_path):
    """The command line the README names, without executing (that is what the tests above do)."""
    done = subprocess.run([sys.executable, str(NOTEBOOKS / "build.py"), "--out", str(tmp_path), STEMS[0]],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for kind in nb_build.BUILDS:
        nb = jupyter.read(tmp_path / kind / f"{STEMS[0]}.ipynb", as_version=4)
        jupyter.validate(nb)
    bad = subprocess.run([sys.executable, str(NOTEBOOKS / "build.py"), "--out", str(tmp_path), "99_nothing"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no notebook named 99_nothing" in bad.stderr


# ---- nbconvert's HTML in Chromium ------------------------------------------------------------------------

PICTURES = """
    const out = [];
    for (const el of document.querySelectorAll('.jp-OutputArea-output svg:not(svg svg), '
                                               + '.jp-OutputArea-output img, .jp-OutputArea-output iframe')) {
        const r = el.getBoundingClientRect();
        out.push([el.tagName.toLowerCase(), r.width, r.height, el.tagName === 'IMG' ? el.naturalWidth : -1]);
    }
    return out;"""


BRACKETS = """return Array.from(document.querySelectorAll('math mo')).filter(m => m.textContent === '['
    && m.nextElementSibling && m.nextElementSibling.localName === 'mtable')
    .map(m => [m.getBoundingClientRect().height, m.nextElementSibling.getBoundingClientRect().height]);"""
# per column of an aligned formula: where its cells' contents start (left-aligned) or end (right-aligned); the
# rows of a column must agree to a pixel
ALIGNED = """const bad = [];
    for (const table of document.querySelectorAll('math mtable')) {
      const edges = {};
      for (const row of table.children) Array.from(row.children).forEach((cell, i) => {
        const side = cell.getAttribute('columnalign'), box = cell.firstElementChild;
        if (!box || (side !== 'left' && side !== 'right')) return;
        const r = box.getBoundingClientRect();
        (edges[i] = edges[i] || []).push(side === 'left' ? r.left : r.right);
      });
      for (const i in edges) if (Math.max(...edges[i]) - Math.min(...edges[i]) > 1) bad.push([i, edges[i]]);
    }
    return bad;"""


def severe(browser):
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def check_player(browser, frame):
    """Inside the player's iframe: the script ran, the graph has a size, and next advances the walk."""
    from selenium.webdriver.common.by import By
    browser.switch_to.frame(frame)
    try:
        assert browser.execute_script("return !!window.player"), "the player's script did not run in the notebook"
        size = browser.execute_script("const r = document.querySelector('#graph svg').getBoundingClientRect();"
                                      "return [r.width, r.height];")
        assert min(size) > 50, size
        assert browser.execute_script("return Number(document.body.getAttribute('data-step'))") == -1
        for expected in (0, 1, 2):
            browser.find_element(By.ID, "next").click()
            assert browser.execute_script("return Number(document.body.getAttribute('data-step'))") == expected
        assert browser.execute_script("return document.getElementById('pos').textContent").startswith("step 3 /")
        xs = browser.execute_script("return Array.from(document.querySelectorAll('#strip .strip-slot'))"
                                    ".map(r => Number(r.getAttribute('x')));")
        assert len(set(xs)) == len(xs) > 1, xs       # one bar under each time step, not all at one point
    finally:
        browser.switch_to.default_content()


@pytest.mark.parametrize("stem", STEMS)
def test_html_opens_in_chromium_with_working_player_and_pictures(jupyter, browser, stem, tmp_path, shots):
    from selenium.webdriver.common.by import By
    page = nb_build.write_atomic(tmp_path / f"{stem}.html", nb_build.to_html(executed(stem, "solutions")))
    browser.set_window_size(1024, 768)
    browser.get_log("browser")                       # start with an empty console
    browser.get(page.as_uri())
    pictures = browser.execute_script(PICTURES)
    assert pictures, "no picture in the notebook's outputs"
    for tag, width, height, natural in pictures:
        assert width > 20 and height > 20 and natural != 0, (tag, width, height, natural)
    assert "\\frac" not in browser.execute_script("return document.body.innerText"), "raw LaTeX is visible"
    formulas = browser.execute_script(
        "return Array.from(document.querySelectorAll('.jp-OutputArea-output math, .jp-MarkdownCell math'))"
        ".map(m => { const r = m.getBoundingClientRect(); return [r.width, r.height]; });")
    for width, height in formulas:
        assert width > 5 and height > 5, formulas
    if stem.startswith("01_"):
        assert len(formulas) >= 6, "notebook 1 shows formulas (1)-(3) rendered, in its text and its outputs"
    brackets = browser.execute_script(BRACKETS)
    assert all(mo >= 0.8 * table for mo, table in brackets), f"a matrix's brackets do not stretch: {brackets}"
    assert browser.execute_script(ALIGNED) == [], "an aligned formula's columns do not line up"
    frames = browser.find_elements(By.CSS_SELECTOR, "iframe[title='backprop player']")
    for frame in frames:
        browser.execute_script("arguments[0].scrollIntoView()", frame)
        check_player(browser, frame)
    if stem.startswith("01_"):
        assert frames, "notebook 1 shows the player inline"
    outputs = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output svg:not(svg svg), .jp-OutputArea-output img")
    for k, picture in enumerate(outputs[:4]):        # what a reader sees at each picture, on a small screen
        browser.execute_script("arguments[0].scrollIntoView()", picture)
        browser.save_screenshot(os.path.join(shots, f"notebook-{stem}-picture{k + 1}-1024x768.png"))
    browser.execute_script("window.scrollTo(0, 0)")
    for width, height in ((1024, 768), (1920, 1080)):
        browser.set_window_size(width, height)
        browser.save_screenshot(os.path.join(shots, f"notebook-{stem}-{width}x{height}.png"))
        if frames:
            browser.execute_script("arguments[0].scrollIntoView()", frames[0])
            browser.save_screenshot(os.path.join(shots, f"notebook-{stem}-player-{width}x{height}.png"))
            browser.execute_script("window.scrollTo(0, 0)")
    assert severe(browser) == []


def test_the_vanishing_lab_says_when_relu_helps_with_its_numbers(jupyter):
    stem = next(s for s in STEMS if s.startswith("03_"))
    cells = executed_cells(stem, "solutions")
    cell = next(c for c in cells if 'for spec in ("tanh", "relu", "relu:rho=3", "irnn")' in c.source)
    shown = text(cell)
    assert "IRNN (relu, W_hh = I)" in shown and "relu-RNN (rho(W_hh)=3)" in shown
    irnn = next(line for line in shown.splitlines() if line.startswith("IRNN"))
    assert "‖∂s_30/∂s_1‖ =  1.0e+00" in irnn                                   # identity init: nothing lost
    prose = (ROOT / "docs" / "notebooks" / f"{stem}.py").read_text(encoding="utf-8")
    assert "vanishes *faster* than the tanh-RNN" in prose and "W_hh = I" in prose
