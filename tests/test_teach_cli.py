"""`tinygrad-rnn step`, `bptt` and `gradient-flow`."""
import builtins
import os
import subprocess
import sys

import numpy as np
import pytest

from viz.cli import teach as teach_cli
from viz.cli import PIPE_CLOSED, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert "step" in text and "bptt" in text and "gradient-flow" in text


def test_step_all_on_the_seed(capsys):
    code, out, _ = run(capsys, "step", "--all")
    assert code == 0
    assert "step 1/17: mul -> E_3" in out and "step 17/17" in out
    assert "** W_s += contribution from t=2 (2nd of 3 uses; W_s.grad = t=3 + t=2)" in out
    assert "rule      d tanh(x)/dx = 1 - tanh(x)^2" in out
    assert "shared: W_s summed 3 contributions: t=3 + t=2 + t=1" in out


@pytest.mark.parametrize("model", ["seed", "lstm"])
def test_step_text_writes_every_gradient_of_the_loss_one_way(capsys, model):
    """∂E/∂· everywhere: the op's rule in the generic ∂E, the upstream gradient and the running sums of shared
    tensors with the loss's own name (E_3), never dE/dA beside ∂E/∂y_3."""
    code, out, _ = run(capsys, "step", "--model", model, "--all")
    assert code == 0 and "dE" not in out
    assert ("rule      C = A@B: ∂E/∂A = ∂E/∂C @ B^T, ∂E/∂B = A^T @ ∂E/∂C" if model == "seed" else
            "rule      y = x W^T + b (+ r): ∂E/∂x = ∂E/∂y @ W, ∂E/∂W = (∂E/∂y)^T @ x") in out
    upstream = [line.split("=")[0].strip() for line in out.splitlines() if line.startswith("  upstream")]
    assert len(upstream) == out.count("\nstep ") and upstream[0] == "upstream  ∂E_3/∂E_3"
    assert all(u.startswith("upstream  ∂E_3/∂") for u in upstream), upstream
    sums = [line for line in out.splitlines() if line.startswith("  ** ") and "uses; ∂" in line]
    assert all("uses; ∂E_3/∂" in line for line in sums) and (model == "seed" or sums)


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_step_all_on_layers(capsys, model):
    code, out, _ = run(capsys, "step", "--model", model, "--steps", "2", "--all")
    assert code == 0
    assert "weight_hh_l0 += contribution from t=1 (2nd of 2 uses; weight_hh_l0.grad = t=2 + t=1)" in out
    assert "shared: weight_hh_l0 summed 2 contributions: t=2 + t=1" in out
    assert "done: every leaf's gradient is final" in out


def test_output_to_a_closed_pipe_ends_quietly():
    """`tinygrad-rnn step --all | head`: the reader has left before the command writes; no error, exit code 1
    (what Python's docs advise), as with the real `| head` below."""
    read, write = os.pipe()
    os.close(read)                                        # every write to `write` now fails with EPIPE
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    with os.fdopen(write, "wb") as stdout:
        done = subprocess.run([sys.executable, "-m", "viz.cli", "step", "--steps", "2", "--all"], stdout=stdout,
                              stderr=subprocess.PIPE, env=env, timeout=120)
    assert (done.returncode, done.stderr.decode()) == (PIPE_CLOSED, "") and PIPE_CLOSED == 1
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    shell = subprocess.run("set -o pipefail; python -m viz.cli step --model lstm --steps 8 --all | head -n 1",
                           shell=True, executable="/bin/bash", capture_output=True, env=env, timeout=120)
    assert shell.stdout.decode().startswith("Backward through LSTM") and shell.stdout.count(b"\n") == 1
    assert shell.stderr == b"" and shell.returncode in (0, PIPE_CLOSED)   # 0: head read it all before closing


def test_step_grads_are_backward():
    E, names = teach_cli.build("gru", steps=3)
    from tinygrad_rnn.teach.stepper import Stepper
    Stepper(E, names=names).run()
    E2, names2 = teach_cli.build("gru", steps=3)
    E2.backward(keep_grads=True)
    for n in names:
        np.testing.assert_array_equal(names[n].grad, names2[n].grad)


def test_seed_with_more_steps(capsys):
    code, out, _ = run(capsys, "step", "--steps", "5", "--all")
    assert code == 0 and "W_s += contribution from t=5" in out and "t=5 + t=4 + ... + t=1" in out


def test_step_interactive(capsys, monkeypatch):
    answers = iter(["", "b", "b", "", "q"])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(answers))
    code, out, _ = run(capsys, "step")
    assert code == 0
    shown = [line.split(":")[0] for line in out.splitlines() if line.startswith("step ")]
    assert shown == ["step 1/17", "step 2/17", "step 1/17", "step 2/17"]
    assert "(this is the first step)" in out and "stopped at step 2 of 17" in out


def test_step_interactive_rest_and_eof(capsys, monkeypatch):
    answers = iter(["a"])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(answers))
    code, out, _ = run(capsys, "step")
    assert code == 0 and "step 17/17" in out and "done:" in out

    def eof(prompt=""):
        raise EOFError
    monkeypatch.setattr(builtins, "input", eof)
    code, out, _ = run(capsys, "step")
    assert code == 0 and "stopped at step 1 of 17" in out


def test_bptt(capsys):
    code, out, _ = run(capsys, "bptt")
    assert code == 0
    assert "(1) ∂E_3/∂W_y" in out and "(2) ∂E_3/∂W_s" in out and "(3) ∂E_3/∂W_x" in out
    assert "t=1  ∂E_3/∂y_3 · ∂y_3/∂s_3 · ∂s_3/∂s_2 · ∂s_2/∂s_1 · ∂s_1/∂W_s" in out
    assert out.count(": equal") == 3
    code, out, _ = run(capsys, "bptt", "--phi", "relu", "--s0", "zeros")
    assert code == 0 and "relu(x_t W_x" in out and out.count(": equal") == 3


def test_gradient_flow(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target, heat = tmp_path / "flow.png", tmp_path / "heat.png"
    code, out, _ = run(capsys, "gradient-flow", "--steps", "6", "--hidden-size", "4", "--input-size", "2",
                       "--models", "tanh,lstm:forget_bias=2", "--out", str(target), "--heatmap", str(heat))
    assert code == 0
    assert "‖∂E_T/∂s_t‖" in out and "LSTM (forget bias +2)" in out and f"plot written to {target}" in out
    assert target.stat().st_size > 1000 and f"heatmap of ‖∂s_t/∂s_k‖ written to {heat}" in out
    assert heat.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_misuse_exits_2(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["step", "--model", "cnn"])
    assert exit.value.code == 2
    with pytest.raises(SystemExit) as exit:
        main(["gradient-flow", "--steps", "0"])
    assert exit.value.code == 2
    code, _, err = run(capsys, "gradient-flow", "--steps", "3", "--models", "tanh,foo")
    assert code == 2 and "unknown model 'foo'" in err and "Traceback" not in err
