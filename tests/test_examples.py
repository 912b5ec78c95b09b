"""The training examples learn on tiny runs; their data is what it claims; the CLI runs them."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import tasks
from viz import cli

ROOT = Path(__file__).resolve().parents[1]


def falls(losses, window=5):
    return np.mean(losses[-window:]) < 0.8 * np.mean(losses[:window])


def test_adding_problem_data():
    x, y = tasks.adding_problem(64, 9, rng=np.random.default_rng(0))
    assert x.shape == (9, 64, 2) and y.shape == (64, 1) and x.dtype == tg.get_default_dtype()
    markers = x[..., 1]
    assert np.all(markers.sum(0) == 2) and np.all(markers[:4].sum(0) == 1)   # one marker in each half
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(0), rtol=1e-6)


def test_copy_task_data():
    x, symbols = tasks.copy_task(5, 10, n_symbols=4, length=3, rng=np.random.default_rng(0))
    codes = x.argmax(-1)
    assert x.shape == (10, 5, 6) and symbols.shape == (3, 5)
    np.testing.assert_array_equal(codes[:3], symbols)
    assert np.all(codes[6] == 5) and np.all(codes[3:6] == 4) and np.all(codes[7:] == 4)   # go, then blanks
    with pytest.raises(ValueError, match=r"seq_len must be at least 2 \* length \+ 1 = 7"):
        tasks.copy_task(5, 6, length=3)


@pytest.mark.parametrize("model", tasks.MODELS)
def test_adding_loss_falls(model):
    result = tasks.train_adding(model, seq_len=6, steps=40, hidden=16, batch=16)
    assert len(result.losses) == 40 and falls(result.losses)


def test_copy_loss_falls_and_gru_learns_a_short_copy():
    result = tasks.train_copy("gru", seq_len=7, steps=150, hidden=16, batch=16, lr=1e-2, n_symbols=3, length=2)
    assert falls(result.losses) and result.learned, result.summary()


def test_training_is_reproducible():
    a = tasks.train_adding("gru", seq_len=5, steps=5, hidden=4, seed=3).losses
    b = tasks.train_adding("gru", seq_len=5, steps=5, hidden=4, seed=3).losses
    assert a == b


def test_charlm_loss_falls_and_samples():
    seen = []
    text = "the cat sat on the mat. " * 20
    result = tasks.train_charlm(text, "lstm", steps=60, seq_len=12, batch=4, hidden=24, sample_every=30,
                                sample_length=10, on_sample=lambda step, sample: seen.append((step, sample)))
    assert falls(result.losses) and result.learned, result.summary()
    assert [s for s, _ in seen] == [30, 60] and seen == result.samples
    assert all(sample.startswith("t") and len(sample) == 10 + 1 for _, sample in seen)   # prompt falls back to text[0]


def test_memory_table_format():
    results = tasks.memory_table("adding", [4, 6], models=("gru", "rnn-tanh"), steps=2, hidden=4, batch=4)
    table = tasks.format_table(results)
    assert "| model | T=4 | T=6 |" in table and "| tanh-RNN | " in table and "adding (test MSE" in table


def test_truncated_bptt_example_learns_with_bounded_graphs(capsys):
    spec = importlib.util.spec_from_file_location("truncated_bptt", ROOT / "examples" / "truncated_bptt.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    history = example.main(["--k", "5", "--length", "40", "--epochs", "8"])
    assert history[-1] < 0.8 * history[0]
    sizes = {int(line.split(": ")[-1].split()[0]) for line in capsys.readouterr().out.splitlines()}
    assert len(sizes) == 1                          # the walk covers k steps, never the whole sequence


def test_cli_train_runs_and_summarises(capsys, tmp_path):
    assert cli.main(["train", "adding", "--model", "rnn-relu", "--steps", "20", "--seq-len", "5", "--hidden", "8"]) == 0
    out, err = capsys.readouterr()
    assert "adding with relu-RNN (T=5): 20 steps" in out and "[##############################] 20/20" in err
    text = tmp_path / "t.txt"
    text.write_text("abcabcabcabd " * 10, encoding="utf-8")
    assert cli.main(["train", "charlm", "--model", "gru", "--steps", "4", "--seq-len", "5", "--hidden", "8",
                     "--batch-size", "2", "--text", str(text), "--sample-every", "2", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "--- sample after 4 steps ---" in out and "charlm with GRU" in out and err == ""
    assert cli.main(["train", "copy", "--table", "7", "--steps", "2", "--hidden", "4", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| LSTM | " in out and "| relu-RNN | " in out


@pytest.mark.parametrize("argv,message", [
    (["train", "adding", "--steps", "0"], "expected a positive int"),
    (["train", "adding", "--table", "a,b"], "comma-separated positive lengths"),
    (["train", "charlm", "--table", "5"], "--table is for the memory tasks"),
    (["train", "copy", "--seq-len", "3", "--steps", "1"], "seq_len must be at least"),
    (["train", "charlm", "--text", "/nonexistent/file.txt"], "No such file"),
    (["train", "adding", "--model", "transformer"], "invalid choice"),
])
def test_cli_misuse_is_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        code = cli.main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
