"""The python blocks of docs/tutorial.md and README.md run, in order, in one namespace: the docs cannot go stale."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def blocks(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def run_blocks(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                          # anything a block writes stays out of the repo
    namespace = {"__name__": name}
    for number, block in enumerate(blocks(name), 1):
        try:
            exec(compile(block, f"{name} block {number}", "exec"), namespace)  # noqa: S102
        except Exception as err:                         # say which block, then show the real error
            raise AssertionError(f"{name} block {number} failed:\n{block}") from err


def test_there_is_something_to_run():
    assert len(blocks("docs/tutorial.md")) >= 8 and len(blocks("README.md")) >= 2


def test_tutorial_blocks_run_in_order(tmp_path, monkeypatch, capsys):
    run_blocks("docs/tutorial.md", tmp_path, monkeypatch)
    assert "W_s += contribution from t=3" in capsys.readouterr().out


def test_readme_blocks_run_in_order(tmp_path, monkeypatch, capsys):
    pytest.importorskip("graphviz")
    run_blocks("README.md", tmp_path, monkeypatch)
    assert "matmul t=1" in capsys.readouterr().out       # the tour reads the tape back
