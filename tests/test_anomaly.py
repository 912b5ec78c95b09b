"""detect_anomaly: the first op whose output or gradient holds NaN/Inf raises, naming op, scope and input ranges."""
import re
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.core import mode, tape


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors():
    """Inside detect_anomaly numpy must not warn (divide by zero, overflow, invalid value): we report it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
    assert not mode.state.anomaly


def creations():
    return int(repr(tape._creation)[6:-1])


def exploding_rnn(T, dtype=np.float32):
    """A relu-RNN with every weight 3: h_t = relu(6 h_{t-1} + 15) grows 6x per step (float32 overflows near t=49)."""
    rnn = tg.RNN(3, 2, nonlinearity="relu", dtype=dtype)
    for p in rnn.parameters():
        p.data = np.full_like(p.data, 3.0)
    return rnn, Tensor(np.ones((T, 1, 3), dtype))


# ---- log of 0 ----------------------------------------------------------------------------------------

def test_log_of_zero_names_op_scope_and_input_range():
    x = Tensor(np.array([1.0, 0.0, 2.0]), requires_grad=True, name="p")
    before = creations()
    with tg.detect_anomaly(), tg.scope("lstm/layer0/t=37/cell"), pytest.raises(tg.AnomalyError) as info:
        x.log()
    msg = str(info.value)
    assert msg.startswith("forward of log in scope 'lstm/layer0/t=37/cell' produced NaN/Inf")
    assert "1 -inf" in msg and "input 0 (p): shape (3,), range [0, 2]" in msg
    assert "epsilon" in msg and "log_softmax" in msg                 # the hint
    assert isinstance(info.value, FloatingPointError)
    assert creations() == before                                    # the failed op recorded nothing


def test_log_of_a_negative_number_counts_nans():
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"2 nan"):
        Tensor(np.array([-1.0, -2.0, 3.0])).log()                    # checked with or without grad


def test_log_of_zero_in_the_backward_only():
    """log(x) at a tiny x is finite, but 1/x overflows float32 in the backward: named there, with its scope."""
    x = Tensor(np.array([1e-39, 1.0], np.float32), requires_grad=True, name="x")
    with tg.detect_anomaly():
        with tg.scope("loss"):
            y = (x.log() * 2.0).sum()
        with pytest.raises(tg.AnomalyError) as info:
            y.backward()
    msg = str(info.value)
    assert re.match(r"backward of log \(node #\d+\) in scope 'loss' sent NaN/Inf to input 0", msg), msg
    assert "input 0 (x)" in msg and "Upstream gradient: shape (2,), range [2, 2]" in msg


# ---- division by zero --------------------------------------------------------------------------------

def test_division_by_zero_in_the_forward():
    a = Tensor(np.array([1.0, 0.0, -1.0]), requires_grad=True, name="a")
    b = Tensor(np.array([2.0, 0.0, 0.0]), name="b")
    with tg.detect_anomaly(), tg.scope("normalise"), pytest.raises(tg.AnomalyError) as info:
        a / b
    msg = str(info.value)
    assert msg.startswith("forward of div in scope 'normalise'")
    assert "1 nan" in msg and "1 -inf" in msg                        # 0/0 and -1/0
    assert "input 1 (b): shape (3,), range [0, 2]" in msg and "division by zero" in msg


def test_division_by_a_tiny_number_overflows_in_the_backward():
    """a / b with b = 1e-30 is 1e30 (finite in float32); d/db = -a/b^2 = -1e60 is not."""
    a = Tensor(np.array([1.0], np.float32), requires_grad=True, name="a")
    b = Tensor(np.array([1e-30], np.float32), requires_grad=True, name="b")
    with tg.detect_anomaly():
        y = (a / b).sum()
        with pytest.raises(tg.AnomalyError, match=r"backward of div \(node #\d+\) sent NaN/Inf to input 1 .*-inf"):
            y.backward()


def test_sqrt_at_zero_has_an_infinite_gradient():
    x = Tensor(np.array([4.0, 0.0]), requires_grad=True)
    with tg.detect_anomaly():
        with tg.scope("norm"):
            y = (x ** 0.5).sum()
        with pytest.raises(tg.AnomalyError, match=r"backward of pow .* in scope 'norm' .*x \*\* 0.5 at 0"):
            y.backward()


# ---- an exploding relu-RNN without clipping ----------------------------------------------------------

def test_exploding_relu_rnn_forward_names_the_time_step():
    rnn, x = exploding_rnn(100)
    # where float32 overflows: the first t at which 6 * h_{t-1} (the h W_hh^T product) passes float32's max
    h, t = 0.0, 0
    while 6 * h <= float(np.finfo(np.float32).max):
        t, h = t + 1, 6 * h + 15
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        rnn(x)
    msg = str(info.value)
    assert msg.startswith(f"forward of linear in scope 'rnn/layer0/t={t + 1}' produced NaN/Inf"), msg
    assert f"input 0 (h_{t})" in msg and "input 1 (weight_hh_l0): shape (2, 2), range [3, 3]" in msg
    assert "float32" in msg and "clip_grad_norm" in msg
    with np.errstate(all="ignore"):
        out, _ = rnn(x)                                               # without checking: inf, no error
    assert np.isinf(out.data).any()


def test_exploding_relu_rnn_backward_overflows_in_the_sum_over_time():
    """T = 48: every value and every per-step contribution is finite, but W_hh is used at 48 steps (one
    linear op per step) and the sum of its contributions overflows: the error names the weight and says so."""
    rnn, x = exploding_rnn(48)
    with tg.detect_anomaly():
        out, _ = rnn(x)
        loss = out.sum()
        assert np.isfinite(loss.item())
        with pytest.raises(tg.AnomalyError) as info:
            loss.backward()
    msg = str(info.value)
    assert msg.startswith("backward: the .grad of leaf 'weight_hh_l0' holds NaN/Inf"), msg
    assert "after summing the contributions of its uses (each one was finite)" in msg and "clip_grad_norm" in msg


def train_relu_rnn(clip, steps=50):
    """Plain SGD (lr 0.5) pulling a relu-RNN's 30 outputs towards 10, under detect_anomaly."""
    tg.manual_seed(0)
    rnn = tg.RNN(2, 4, nonlinearity="relu", dtype=np.float32)
    opt = tg.optim.SGD(rnn.parameters(), lr=0.5)
    x = Tensor(np.random.default_rng(0).uniform(0, 1, (30, 4, 2)).astype(np.float32))
    with tg.detect_anomaly():
        for _ in range(steps):
            out, _ = rnn(x)
            loss = ((out - 10.0) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            if clip:
                tg.clip_grad_norm(rnn.parameters(), 1.0)
            opt.step()
    return loss.item()


def test_exploding_relu_rnn_training_without_clipping_is_caught():
    with pytest.raises(tg.AnomalyError) as info:
        train_relu_rnn(clip=False)
    msg = str(info.value)
    assert re.match(r"forward of \w+ in scope 'rnn/layer0/t=\d+' produced NaN/Inf", msg), msg
    assert "clip_grad_norm" in msg
    assert np.isfinite(train_relu_rnn(clip=True))                     # the seed's clipping keeps it finite


def test_float64_gives_more_room():
    rnn, x = exploding_rnn(100, np.float64)
    with tg.detect_anomaly():
        out, _ = rnn(x)                                               # 6^100 * 15 ~ 1e79 < 1.8e308
    assert np.isfinite(out.data).all()


# ---- sums that overflow, seeds, inputs -----------------------------------------------------------------

def test_a_leaf_whose_sum_over_uses_overflows():
    """w is used twice; each use sends a finite 2e38 to it, and their sum (4e38) overflows float32."""
    w = Tensor(np.array(1e-38, np.float32), requires_grad=True, name="w")
    big = Tensor(np.array(2e38, np.float32))
    with tg.detect_anomaly():
        z = w * big + w * big                                         # forward 2 + 2
        with pytest.raises(tg.AnomalyError, match=r"\.grad of leaf 'w' holds NaN/Inf"):
            z.backward()


def test_a_nan_seed_is_reported_as_the_seed():
    x = Tensor(np.ones(2), requires_grad=True)
    with tg.detect_anomaly():
        y = x * 2.0
        with pytest.raises(tg.AnomalyError, match=r"gradient passed to backward\(\)"):
            y.backward(np.array([1.0, np.nan]))


def test_an_input_that_already_holds_nan():
    x = Tensor(np.array([np.nan, 1.0]), requires_grad=True, name="x")
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"1 nan.*input already held NaN"):
        x.tanh()


# ---- the context manager -----------------------------------------------------------------------------

def test_finite_graphs_run_unchanged_and_state_is_restored():
    x = Tensor(np.array([0.5, 2.0]), requires_grad=True)
    with tg.detect_anomaly():
        assert mode.state.anomaly
        (x.log() * x.sigmoid()).sum().backward()
    assert not mode.state.anomaly
    np.testing.assert_allclose(x.grad, 1 / x.data * (1 / (1 + np.exp(-x.data))) +
                               np.log(x.data) * np.exp(-x.data) / (1 + np.exp(-x.data)) ** 2)


def test_state_is_restored_after_an_error_and_nesting_works():
    with pytest.raises(tg.AnomalyError), tg.detect_anomaly():
        with tg.detect_anomaly(False):
            assert not mode.state.anomaly
            Tensor(np.zeros(1)).log()                            # not checked in here
        assert mode.state.anomaly
        Tensor(np.zeros(1)).log()
    assert not mode.state.anomaly
    with tg.detect_anomaly(), pytest.raises(ZeroDivisionError):
        _ = 1 / 0                                                    # other errors pass through untouched
    assert not mode.state.anomaly


def test_usable_as_a_decorator():
    @tg.detect_anomaly()
    def f(x):
        assert mode.state.anomaly
        return (x - 1.0).log()

    f(Tensor(np.array([2.0])))
    with pytest.raises(tg.AnomalyError):
        f(Tensor(np.array([1.0])))
    assert not mode.state.anomaly


def test_without_detect_anomaly_nan_propagates_as_in_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = Tensor(np.array([0.0]), requires_grad=True).log()
    assert np.isneginf(y.data).all()


def test_backward_outside_the_block_is_not_checked():
    x = Tensor(np.array([0.0]), requires_grad=True)
    with tg.detect_anomaly():
        y = (x ** 0.5).sum()
    with np.errstate(all="ignore"):
        y.backward()                                                  # inf gradient, no error (as in PyTorch)
    assert np.isinf(x.grad).all()


def test_stepper_runs_under_detect_anomaly():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True, name="x")
    with tg.detect_anomaly():
        y = (x ** 0.5).sum()
        stepper = tg.Stepper(y)
        stepper.next()                                                # sum: fine
        with pytest.raises(tg.AnomalyError, match="backward of pow"):
            stepper.next()
