"""The benchmark compares like with like: on its own workloads, at a tiny size in float64, this project's
gradients (lean training mode, the default observed mode, and its recorded ops' kernels alone) equal the hand-written numpy BPTT's.
No timing here: benchmarks/bench_rnn.py measures, tests only check."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import bench_rnn as bench  # noqa: E402

CASES = [("lstm", 1), ("gru", 1), ("rnn", 1), ("lstm", 2)]


@pytest.mark.parametrize("kind,layers", CASES, ids=[f"{k}x{n}" for k, n in CASES])
@pytest.mark.parametrize("contender", ["tinygrad_rnn", "tg+keep", "tg kernels"])
def test_project_gradients_equal_numpy_bptt(kind, layers, contender):
    d = bench.make_inputs(kind, layers, B=3, I=4, H=5, T=6, dtype=np.float64, seed=1)
    want = bench.SETUPS["numpy"](kind, d)()
    step = bench.SETUPS[contender](kind, d)
    for _ in range(2):                      # a second step starts from zeroed gradients again
        got = step()
        assert set(got) == set(want)
        for name in want:
            assert got[name].dtype == np.float64, name
            np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_workloads_are_the_issues():
    """The three sizes of the targets for each of the LSTM, the GRU and the tanh RNN, and a 2-layer LSTM."""
    sizes = {(k, n, B, I, H, T) for k, n, B, I, H, T in bench.WORKLOADS.values()}
    targets = {(kind, 1, *shape) for kind in ("lstm", "gru", "rnn")
               for shape in ((32, 128, 128, 50), (32, 512, 512, 50), (8, 32, 32, 200))}
    assert targets | {("lstm", 2, 32, 128, 128, 50)} == sizes


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_variants_train_the_layers_they_name(kind):
    d = bench.make_inputs(kind, 2, B=3, I=4, H=4, T=5, dtype=np.float64, seed=1)
    grads = {v: bench.SETUPS[v](kind, d)() for v in bench.VARIANTS}
    assert set(grads["tg 2 layers"]) == set(grads["tg dropout"])
    assert {n for n in grads["tg bidirectional"] if n.endswith("_reverse")} == {
        f"{w}_l0_reverse" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    for variant, got in grads.items():
        assert all(g is not None and np.isfinite(g).all() and g.any() for g in got.values()), variant
    assert not np.array_equal(grads["tg 2 layers"]["x"], grads["tg dropout"]["x"])   # the masks changed it
