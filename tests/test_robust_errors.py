"""A learner's mistakes get a clear ValueError/TypeError naming the argument and the expected form.

Cells and layers (state shapes, input ranks, constructor arguments), state dicts and .npz files (corrupt,
truncated, foreign, pickled: refused, never unpickled, nothing half-loaded), the public helpers, and every
subcommand of the `tinygrad-rnn` command (exit code 2, one line, no traceback).
"""
import io
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
import zipfile
from typing import ClassVar

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, bptt, flow, nn, optim, stepper, tasks
from viz.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- cells and layers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", [tg.RNNCell, tg.GRUCell])
def test_cells_name_the_expected_hidden_shape(cell):
    c = cell(3, 4)
    with pytest.raises(ValueError, match=rf"{cell.__name__}: h must have shape \(B, H\) = \(2, 4\), got \(2, 5\)"):
        c(np.ones((2, 3)), np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"h must have shape \(B, H\) = \(2, 4\), got \(4,\)"):
        c(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"x must have shape \(B, input_size\) = \(B, 3\) or \(3,\), got \(2, 2, 3\)"):
        c(np.ones((2, 2, 3)))
    with pytest.raises(ValueError, match=r"h must have shape \(H,\) = \(4,\) for an unbatched input, got \(1, 5\)"):
        c(np.ones(3), np.ones((1, 5)))                   # (4,) is H's shape, not x's
    with pytest.raises(TypeError, match=r"x must be a Tensor or a numpy array, got str"):
        c("abc")


def test_lstm_cell_state_is_a_pair_of_b_by_h():
    c = tg.LSTMCell(3, 4)
    with pytest.raises(TypeError, match=r"LSTMCell: the state must be a pair \(h, c\), got ndarray"):
        c(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"LSTMCell: c must have shape \(B, H\) = \(2, 4\), got \(3, 4\)"):
        c(np.ones((2, 3)), (np.ones((2, 4)), np.ones((3, 4))))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("shape", [(3,), (2, 2, 2, 3), (2, 2, 5), (0, 2, 3)])
def test_layers_name_the_expected_input_rank(kind, shape):
    layer = getattr(tg, kind)(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=rf"{kind}: input must have shape \(T, B, input_size\) with input_size=3"):
        layer(np.ones(shape))


def test_layer_states_name_num_layers_b_h():
    with pytest.raises(ValueError, match=r"LSTM: h_0 must have shape \(num_layers, B, H\) = \(2, 2, 4\), got \(1, 2, 4\)"):
        tg.LSTM(3, 4, num_layers=2)(np.ones((5, 2, 3)), (np.ones((1, 2, 4)), np.ones((2, 2, 4))))
    with pytest.raises(TypeError, match=r"LSTM: the initial state must be a pair \(h_0, c_0\)"):
        tg.LSTM(3, 4)(np.ones((5, 2, 3)), np.ones((1, 2, 4)))
    with pytest.raises(ValueError, match=r"GRU: h_0 must have shape \(num_layers, B, H\) = \(1, 2, 4\), got \(2, 4\)"):
        tg.GRU(3, 4)(np.ones((5, 2, 3)), np.ones((2, 4)))


@pytest.mark.parametrize("make, error, match", [
    (lambda: tg.RNN(3, 0), ValueError, r"RNN: hidden_size must be at least 1, got 0"),
    (lambda: tg.LSTM(3, 2.5), TypeError, r"LSTM: hidden_size must be an integer, got float 2.5"),
    (lambda: tg.GRUCell(True, 2), TypeError, r"GRUCell: input_size must be an integer, got bool"),
    (lambda: tg.RNN(3, 2, num_layers=0), ValueError, r"num_layers must be at least 1"),
    (lambda: tg.RNN(3, 2, nonlinearity="sigmoid"), ValueError, r"nonlinearity must be 'tanh' or 'relu'"),
    (lambda: tg.RNN(3, 2, dtype=np.int32), TypeError, r"dtype must be a float dtype .* got int32"),
    (lambda: tg.LSTMCell(3, 2, dtype="nonsense"), TypeError, r"dtype must be a float dtype .* got 'nonsense'"),
    (lambda: nn.Linear(3, 2, dtype=bool), TypeError, r"dtype must be a float dtype .* got bool"),
    (lambda: nn.Embedding(3, 2, dtype=np.int64), TypeError, r"dtype must be a float dtype"),
    (lambda: tg.seed.ThreeStepRNN(2, 3, 1, dtype=np.int8), TypeError, r"dtype must be a float dtype"),
    (lambda: nn.Linear(3, 2)(np.ones((2, 4))), ValueError, r"Linear: x must have shape \(\.\.\., in_features=3\)"),
    (lambda: nn.Embedding(5, 2)(np.array([1.5])), TypeError, r"Embedding: indices must be integers"),
    (lambda: nn.Embedding(5, 2)(np.array([5])), ValueError, r"Embedding: indices must lie in \[0, 5\)"),
])
def test_module_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---- state dicts ---------------------------------------------------------------------------------------

def model():
    tg.manual_seed(0)
    return tg.LSTM(2, 3)


@pytest.mark.parametrize("change, match", [
    (lambda s: s.pop("bias_hh_l0"), r"missing key: bias_hh_l0"),
    (lambda s: s.update(extra=np.ones(3)), r"unexpected key: extra"),
    (lambda s: s.update(weight_ih_l0=np.ones((2, 12))), r"weight_ih_l0: expected shape \(12, 2\), got \(2, 12\)"),
    (lambda s: s.update(weight_hh_l0="abc"), r"weight_hh_l0: expected numbers, got dtype <U3"),
    (lambda s: s.update(weight_hh_l0=np.ones((12, 3), bool)), r"expected numbers, got dtype bool"),
])
def test_load_state_dict_is_all_or_nothing_and_says_why(change, match):
    m = model()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    state = {k: v + 1 for k, v in before.items()}
    change(state)
    with pytest.raises(ValueError, match=r"load_state_dict into LSTM: nothing was loaded because of") as info:
        m.load_state_dict(state)
    assert re.search(match, str(info.value)), str(info.value)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])             # nothing changed, not even the good keys


def test_load_state_dict_non_strict_and_wrong_container():
    m = model()
    state = m.state_dict()
    state.pop("bias_ih_l0")
    missing, unexpected = m.load_state_dict(state | {"x": np.ones(1)}, strict=False)
    assert missing == ["bias_ih_l0"] and unexpected == ["x"]
    with pytest.raises(ValueError, match="expected shape"):                # mis-shaped: an error even then
        m.load_state_dict({"weight_ih_l0": np.ones(3)}, strict=False)
    with pytest.raises(TypeError, match=r"expected a dict of name -> array, got list"):
        m.load_state_dict([1, 2])


# ---- .npz files ----------------------------------------------------------------------------------------

class Boom:
    """Unpickling this would record that it happened (it must never be)."""
    unpickled: ClassVar[list] = []

    def __reduce__(self):
        return (Boom.unpickled.append, ("unpickled!",))


def write(path, data):
    path.write_bytes(data)
    return path


def saved(tmp_path):
    m = model()
    path = tmp_path / "lstm.npz"
    m.save(path)
    return m, path


def test_save_and_load_round_trip_and_numpys_own_npz(tmp_path):
    m, path = saved(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["lstm.npz"]                  # no temporary file left
    fresh = tg.LSTM(2, 3).load(path)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k], v)
    assert sorted(np.load(path).files) == sorted(m.state_dict())        # a plain .npz numpy can read
    for writer in (np.savez, np.savez_compressed):                       # and numpy's files load here
        other = tmp_path / f"{writer.__name__}.npz"
        writer(other, **{k: np.asfortranarray(v) for k, v in m.state_dict().items()})
        assert np.array_equal(tg.LSTM(2, 3).load(other).weight_hh_l0.data, m.weight_hh_l0.data)


def corrupt_files(tmp_path):
    _, good = saved(tmp_path)
    data = good.read_bytes()
    np.save(tmp_path / "single.npy", np.ones(3))
    np.save(tmp_path / "objects.npy", np.array([Boom()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "pickled-member.npz", "w") as z:     # an object array inside an .npz
        z.writestr("weight_ih_l0.npy", (tmp_path / "objects.npy").read_bytes())
    with zipfile.ZipFile(tmp_path / "foreign-member.npz", "w") as z:
        z.writestr("weights.pkl", pickle.dumps(Boom()))
    with zipfile.ZipFile(tmp_path / "garbage-member.npz", "w") as z:
        z.writestr("weight_ih_l0.npy", b"\x93NUMPY garbage")
    full = (tmp_path / "single.npy").read_bytes()
    with zipfile.ZipFile(tmp_path / "short-member.npz", "w") as z:      # its data cut short
        z.writestr("weight_ih_l0.npy", full[:-8])
    f = io.BytesIO()                                                     # a header promising 80 GB
    np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 10,)})
    with zipfile.ZipFile(tmp_path / "huge-claim.npz", "w") as z:
        z.writestr("weight_ih_l0.npy", f.getvalue() + b"\0" * 64)
    return {
        "garbage": (write(tmp_path / "garbage.npz", b"this is not an archive" * 3), "not a zip archive"),
        "empty": (write(tmp_path / "empty.npz", b""), "it is empty"),
        "truncated": (write(tmp_path / "truncated.npz", data[: len(data) // 2]), "truncated or corrupt"),
        "truncated-end": (write(tmp_path / "truncated-end.npz", data[:-10]), "truncated or corrupt"),
        "bit-flipped": (write(tmp_path / "flipped.npz", data[:200] + bytes([data[200] ^ 0xFF]) + data[201:]),
                        r"truncated or corrupt|not a \.npy|unknown|header"),
        "single npy": (tmp_path / "single.npy", "a single .npy array"),
        "pickle": (write(tmp_path / "model.npz", pickle.dumps({"weight_ih_l0": Boom()})), "never unpickles"),
        "object array": (tmp_path / "pickled-member.npz", r"holds Python objects \(pickled data\)"),
        "foreign member": (tmp_path / "foreign-member.npz", r"member 'weights.pkl' is not a \.npy array"),
        "garbage member": (tmp_path / "garbage-member.npz", r"member 'weight_ih_l0.npy'"),
        "short member": (tmp_path / "short-member.npz", r"truncated"),
        "huge claim": (tmp_path / "huge-claim.npz", r"truncated: its header promises \(10000000000,\) float64"),
    }


def test_corrupt_truncated_and_foreign_files_are_refused_and_never_unpickled(tmp_path):
    m = model()
    before = m.state_dict()
    for what, (path, match) in corrupt_files(tmp_path).items():
        with pytest.raises(ValueError) as info:
            m.load(path)
        msg = str(info.value)
        assert msg.startswith(f"load: {path}"), (what, msg)
        assert re.search(match, msg), (what, msg)
        assert "allow_pickle" not in msg, (what, msg)                   # never advises unpickling
    assert Boom.unpickled == []
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_foreign_but_valid_npz_names_its_keys(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.ones(3))
    with pytest.raises(ValueError, match=r"(?s)load: .*other.npz: load_state_dict into LSTM: .*unexpected key: a"):
        model().load(path)


def test_paths_that_are_not_paths_or_not_there(tmp_path):
    m = model()
    with pytest.raises(TypeError, match=r"load: path must be a str, bytes or os.PathLike, got NoneType"):
        m.load(None)
    with pytest.raises(TypeError, match=r"save: path must be a str, bytes or os.PathLike, got int"):
        m.save(3)
    with pytest.raises(FileNotFoundError):
        m.load(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError):
        m.save(tmp_path / "no" / "such" / "dir.npz")
    assert os.listdir(tmp_path) == []


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    m, path = saved(tmp_path)
    old = path.read_bytes()
    real, calls = np.lib.format.write_array, []

    def failing(f, array, allow_pickle):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        real(f, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    assert path.read_bytes() == old and sorted(os.listdir(tmp_path)) == ["lstm.npz"]


# ---- the rest of the public API ------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: Tensor([1.0], name=3), TypeError, r"Tensor: name must be a string"),
    (lambda: tg.set_default_dtype("nonsense"), TypeError, r"set_default_dtype: dtype must be a float dtype"),
    (lambda: tg.set_default_dtype(np.int32), TypeError, r"set_default_dtype: dtype must be a float dtype .* int32"),
    (lambda: Tensor(np.ones(3)).split(1, axis=3), ValueError, r"split: axis must be an integer in \[-1, 1\)"),
    (lambda: Tensor(np.ones(3)).split(1.5), TypeError, r"split: expected a piece size \(int\) or a list"),
    (lambda: Tensor(np.ones(3)).split([1, -1, 3]), TypeError, r"split: expected a piece size"),
    (lambda: Tensor(np.ones(3)).chunk(1.5), ValueError, r"chunk: chunks must be a positive integer, got 1.5"),
    (lambda: Tensor(np.ones(3)).chunk(2, axis="0"), ValueError, r"chunk: axis must be an integer"),
    (lambda: Tensor(np.ones(3))[Tensor([0.5])], TypeError, r"whole numbers"),
    (lambda: tg.mse_loss(np.ones(3), np.ones(3)), TypeError, r"mse_loss: pred must be a Tensor, got ndarray"),
    (lambda: tg.mse_loss(Tensor(np.ones(3)), "abc"), TypeError, r"mse_loss: target must be a Tensor or an array"),
    (lambda: tg.cross_entropy(Tensor(np.ones((2, 3))), [0, 3]), ValueError, r"targets must lie in \[0, 3\)"),
    (lambda: tg.gradcheck(3, [Tensor(1.0, requires_grad=True)]), TypeError, r"gradcheck: fn must be a function"),
    (lambda: tg.gradcheck(lambda x: x, Tensor(1.0, requires_grad=True)), TypeError,
     r"gradcheck: inputs must be a list or tuple of Tensors, got Tensor \(wrap a single tensor: \[x\]\)"),
    (lambda: tg.detach_state(3), TypeError, r"detach_state: expected a Tensor, a tuple \(h, c\) of them or None"),
    (lambda: tg.Stepper((Tensor([1.0], requires_grad=True) * 2).sum(), names=[1]), TypeError,
     r"Stepper: names must map display names to tensors"),
    (lambda: tg.Stepper((Tensor([1.0], requires_grad=True) * 2).sum()).seek("a"), TypeError,
     r"Stepper.seek: index must be an integer, got str"),
    (lambda: tg.Stepper((Tensor([1.0], requires_grad=True) * 2).sum()).seek(5), IndexError, r"outside 0..1"),
    (lambda: stepper.edge_contributions(3, Tensor(1.0)), TypeError, r"edge_contributions: root and tensor"),
    (lambda: tg.jacobian(3, Tensor(1.0)), TypeError, r"jacobian: expected a Tensor output"),
    (lambda: optim.SGD(model().parameters(), lr="1"), TypeError, r"SGD: lr must be a number, got str"),
    (lambda: optim.SGD([], lr=1), ValueError, r"SGD: got an empty list of parameters"),
    (lambda: optim.Adam(model().parameters(), betas=(0.9,)), TypeError, r"Adam: betas must be a pair"),
    (lambda: tg.clip_grad_norm(model().parameters(), float("nan")), ValueError, r"max_norm must lie in"),
    (lambda: tg.manual_seed(-1), ValueError, r"manual_seed: seed must be a non-negative integer"),
    (lambda: tg.scope(3).__enter__(), ValueError, r"scope name must be a non-empty string"),
    (lambda: tasks.adding_problem("a", 5), TypeError, r"adding_problem: batch must be an integer, got str"),
    (lambda: tasks.adding_problem(0, 5), ValueError, r"adding_problem: batch must be at least 1"),
    (lambda: tasks.copy_task(2, 10, n_symbols=0), ValueError, r"copy_task: n_symbols must be at least 1"),
    (lambda: tasks.make_rnn("lstmx", 2, 3), ValueError, r"model must be one of lstm, gru"),
    (lambda: tasks.train_charlm(5, steps=1), TypeError, r"train_charlm: text must be a string, got int"),
    (lambda: tasks.memory_table("foo", [5]), ValueError, r"memory_table: task must be 'adding' or 'copy'"),
    (lambda: tasks.memory_table("adding", 5), TypeError, r"memory_table: lengths must be a list"),
    (lambda: tasks.CharLM(0), TypeError, r"CharLM: vocab must be a string or a list of characters"),
    (lambda: tasks.CharLM("aab"), ValueError, r"CharLM: vocab must hold at least one character, each once"),
    (lambda: tasks.CharLM("ab").encode("abc"), ValueError, r"CharLM.encode: characters 'c' are not in the vocab"),
    (lambda: flow.gradient_flow(5, models="tanh"), TypeError, r"gradient_flow: models must be a non-empty list"),
    (lambda: flow.gradient_flow(5, models=[]), TypeError, r"gradient_flow: models must be a non-empty list"),
    (lambda: flow.measure("tanh", steps=0), ValueError, r"gradient_flow: steps must be at least 1"),
    (lambda: flow.parse_spec("relu:foo=3"), ValueError, r"relu has no option 'foo'"),
    (lambda: bptt.chain("W_q", 1, 3), ValueError, r"chain: weight must be 'W_x', 'W_s' or 'W_y'"),
    (lambda: bptt.chain("W_s", 5, 3), ValueError, r"chain: need whole time steps 1 <= t <= T, got t=5, T=3"),
    (lambda: tg.seed.three_step_network(s_0="maybe"), ValueError, r"s_0 must be 'random' or 'zeros'"),
])
def test_public_functions_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---- the command line ----------------------------------------------------------------------------------

MISUSE = {
    "": ["--bogus", "nosuch"],
    "train": ["train", "train foo", "train adding --steps 0", "train adding --steps abc", "train adding --lr -1",
              "train adding --table 0,5", "train charlm --table 10", "train adding --text x.txt",
              "train adding --model foo", "train adding --seed -1 --steps 1", "train copy --seq-len 3 --steps 1",
              "train charlm --text {tmp}/missing.txt --steps 1", "train charlm --text {tmp}/binary --steps 1"],
    "step": ["step --model foo", "step --steps -3", "step --steps 1 --all --seed -5", "step --phi sigmoid"],
    "bptt": ["bptt --phi x", "bptt --s0 maybe", "bptt --seed -1", "bptt extra"],
    "gradient-flow": ["gradient-flow --steps 0", "gradient-flow --models foo --steps 2",
                      "gradient-flow --models relu:rho=abc --steps 2", "gradient-flow --models , --steps 2",
                      "gradient-flow --max-norm 0", "gradient-flow --steps 2 --models tanh --out {tmp}/no/x.png",
                      "gradient-flow --steps 2 --models tanh --out {tmp}/x.txt"],
    "player": ["player --model foo", "player --steps 0", "player --steps 1 --out {tmp}/no/x.html",
               "player --check maybe", "player --seed -2"],
    "draw": ["draw --model foo", "draw --steps 0", "draw --out {tmp}/x.gif", "draw --out {tmp}/no/x.svg",
             "draw --model seed --layers 3 --out {tmp}/x.svg", "draw --max-steps -1", "draw --hidden 0",
             "draw --seed -1"],
    "demo": ["demo --train-steps abc", "demo --train-steps 0 --out {tmp}/demo", "demo --out {tmp}/binary"],
}


def run_cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as done:                      # argparse's own errors exit; ours return the code
        code = done.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_subcommand_is_covered():
    from viz.cli import build_parser
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) <= set(MISUSE), f"add misuse cases for {sorted(set(commands) - set(MISUSE))}"


@pytest.mark.parametrize("line", [line for lines in MISUSE.values() for line in lines])
def test_cli_misuse_exits_2_with_one_line_and_no_traceback(line, capsys, tmp_path):
    (tmp_path / "binary").write_bytes(bytes(range(256)) * 4)
    argv = line.format(tmp=tmp_path).split()
    code, _, err = run_cli(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (line, code, err)
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, (line, err)
    assert "--help" in lines[0], (line, err)                        # the one line points at the help
    assert os.listdir(tmp_path) == ["binary"], line                 # nothing written on the way


def test_the_installed_command_in_a_subprocess(tmp_path):
    """One real process: the console script when installed (else python -m viz.cli), misuse and a success."""
    exe = shutil.which("tinygrad-rnn")
    base = [exe] if exe else [sys.executable, "-m", "viz.cli"]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    bad = subprocess.run(base + ["draw", "--steps", "0"], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=120, check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert "argument --steps: expected a positive integer" in bad.stderr
    ok = subprocess.run(base + ["bptt"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
                        check=False)
    assert ok.returncode == 0 and "W_s" in ok.stdout and ok.stderr == ""


# ---- viz asked to draw too much ------------------------------------------------------------------------

def unrolled(T, scoped):
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((2, 3)) * 0.3, requires_grad=True, name="W")
    U = Tensor(rng.standard_normal((3, 3)) * 0.3, requires_grad=True, name="U")
    h = Tensor(np.zeros((1, 3)))
    for t in range(1, T + 1):
        x = rng.standard_normal((1, 2))
        if scoped:
            with tg.scope(f"t={t}"):
                h = (x @ W + h @ U).tanh()
        else:
            h = (x @ W + h @ U).tanh()
    loss = (h ** 2).sum()
    loss.backward(keep_grads=True)
    return loss


def test_viz_refuses_a_tangle_graphviz_cannot_lay_out_and_says_what_to_do():
    """50 unscoped steps of h = tanh(x W + h U): W and U feed 50 ops each, and graphviz's dot does not finish
    such a layout in minutes. draw() refuses at once, naming the weight and the fix; the scoped loop draws."""
    viz = pytest.importorskip("viz")
    pytest.importorskip("graphviz")
    start = time.perf_counter()
    with pytest.raises(viz.TooLarge, match=r"draw: 'W' feeds 50 ops .* wrap each time step in .*scope") as info:
        viz.draw(unrolled(50, scoped=False))
    assert isinstance(info.value, ValueError) and time.perf_counter() - start < 10
    picture = viz.draw(unrolled(1000, scoped=True))            # the same loop in scopes: elided, small
    assert "steps hidden" in picture.source and len(picture.source) < 100_000
    if shutil.which("dot"):
        assert b"<svg" in picture.pipe(format="svg")


def test_viz_refuses_too_many_vertices(monkeypatch):
    viz = pytest.importorskip("viz")
    pytest.importorskip("graphviz")
    x = Tensor(np.ones(3), requires_grad=True)
    h = x
    for _ in range(200):
        h = (h * 0.5).tanh()
    loss = h.sum()
    loss.backward(keep_grads=True)
    monkeypatch.setattr(viz, "MAX_VERTICES", 100)
    with pytest.raises(viz.TooLarge, match=r"draw: \d+ vertices are too many to lay out"):
        viz.draw(loss)
    monkeypatch.setattr(viz, "MAX_VERTICES", 1000)
    assert "tanh" in viz.draw(loss).source


def test_viz_arguments(tmp_path):
    viz = pytest.importorskip("viz")
    pytest.importorskip("graphviz")
    x = Tensor(np.ones(3), requires_grad=True)
    y = (x * 2.0).sum()
    with pytest.raises(TypeError, match=r"draw: expected the Tensor whose graph to draw .* got int"):
        viz.draw(3)
    with pytest.raises(ValueError, match=r"draw: this tensor was not produced by recorded ops"):
        viz.draw(x)
    with pytest.raises(ValueError, match=r"draw: max_steps must be a positive integer or None, got 0"):
        viz.draw(y, max_steps=0)
    with pytest.raises(TypeError, match=r"draw: title must be a string or None, got int"):
        viz.draw(y, title=3)
    with pytest.raises(ValueError, match=r"draw: detail must be auto\|ops\|cells"):
        viz.draw(y, detail="x")
    with pytest.raises(TypeError, match=r"save: path must be a str or os.PathLike"):
        viz.save(y, None)
    with pytest.raises(ValueError, match=r"save: cannot tell the format of .*x.gif"):
        viz.save(y, tmp_path / "x.gif")
    assert os.listdir(tmp_path) == []
