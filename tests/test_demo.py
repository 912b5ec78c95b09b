"""The README's first command runs `tinygrad-rnn demo`: every output lands in one folder, formula (2) is printed."""
import shutil

import pytest

from viz import cli


def test_demo_writes_everything_into_one_folder(tmp_path, capsys):
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed")
    out = tmp_path / "demo-out"
    assert cli.main(["demo", "--out", str(out), "--train-steps", "20"]) == 0
    printed = capsys.readouterr().out
    for name in ("lstm_gradients.svg", "lstm_gradients.png", "seed_bptt.svg", "seed_bptt.png", "backprop.html"):
        assert (out / name).stat().st_size > 1000, name
        assert name in printed
    assert "(2) ∂E_3/∂W_s" in printed and printed.count("t=1  ") >= 1
    assert "terms sum to W_s.grad: equal" in printed
    assert "] 20/20 loss" in printed and "adding with LSTM" in printed
    assert "kept no per-edge gradients" not in (out / "lstm_gradients.svg").read_text()


def test_demo_rejects_a_bad_step_count(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["demo", "--train-steps", "0"])
    assert exit.value.code == 2
    assert "--train-steps" in capsys.readouterr().err
