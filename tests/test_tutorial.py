"""docs/tutorial.md's python blocks run, in order, in one namespace: the tutorial cannot go stale."""
import re
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", TUTORIAL.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)


def test_there_is_something_to_run():
    assert len(BLOCKS) >= 8


def test_blocks_run_in_order(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tinygrad_rnn.seed")
    monkeypatch.chdir(tmp_path)                          # anything a block writes stays out of the repo
    namespace = {"__name__": "tutorial"}
    for number, block in enumerate(BLOCKS, 1):
        try:
            exec(compile(block, f"{TUTORIAL.name} block {number}", "exec"), namespace)  # noqa: S102
        except Exception as err:                         # say which block, then show the real error
            raise AssertionError(f"tutorial block {number} failed:\n{block}") from err
    assert "W_s += contribution from t=3" in capsys.readouterr().out
