"""Stable numerics: sigmoid, softplus, softmax, log_softmax and cross-entropy at |x| = 1e4, float32 and float64.

Values and gradients must be finite, in the input's dtype, free of numpy warnings, and equal to the exact
answer (computed in float64 from formulas that are exact at these magnitudes, and by PyTorch where installed).
"""
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor

DTYPES = [np.float32, np.float64]
BIG = 1e4
X = np.array([-BIG, -1e3, -50.0, -1.0, 0.0, 1.0, 50.0, 1e3, BIG])


@pytest.fixture(autouse=True)
def no_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # overflow in exp, divide by zero in log, invalid value: failures
        yield


def tol(dtype):
    return {"rtol": 1e-6, "atol": 1e-30} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-300}


def grad_of(fn, x, dtype, seed=None):
    t = Tensor(np.asarray(x, dtype), requires_grad=True)
    out = fn(t)
    out.backward(seed if seed is not None else (np.ones(out.shape, dtype) if out.shape else None))
    return out, t.grad


def check(out, grad, want, want_grad, dtype):
    for got, expect in ((out.data, want), (grad, want_grad)):
        assert got.dtype == dtype and np.isfinite(got).all(), got
        np.testing.assert_allclose(got, expect, **tol(dtype))


def exact_sigmoid(x):
    x = np.asarray(x, np.float64)
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid(dtype):
    out, grad = grad_of(lambda t: t.sigmoid(), X, dtype)
    s = exact_sigmoid(X.astype(dtype))
    check(out, grad, s, s * (1 - s), dtype)
    assert out.data[0] == 0 and out.data[-1] == 1 and grad[0] == 0 and grad[-1] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus(dtype):
    out, grad = grad_of(lambda t: t.softplus(), X, dtype)
    x = X.astype(dtype).astype(np.float64)
    want = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))            # exact: no overflow, no cancellation
    check(out, grad, want, exact_sigmoid(x), dtype)
    assert out.data[-1] == BIG and out.data[0] == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_and_log_softmax(dtype, axis):
    x = np.array([[BIG, 0.0, -BIG], [-BIG, -BIG, -BIG], [BIG, BIG, 0.0], [1.0, 2.0, 3.0]])
    seed = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    xf = x.astype(np.float64)
    m = xf.max(axis=axis, keepdims=True)
    want = (xf - m) - np.log(np.exp(xf - m).sum(axis=axis, keepdims=True))     # not xf - (m + log ...): 1e4 + 0.69
    p = np.exp(want)
    out, grad = grad_of(lambda t: t.log_softmax(axis), x, dtype, seed)
    check(out, grad, want, seed - p * seed.sum(axis=axis, keepdims=True), dtype)
    out, grad = grad_of(lambda t: t.softmax(axis), x, dtype, seed)
    check(out, grad, p, p * (seed - (seed * p).sum(axis=axis, keepdims=True)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_at_large_logits(dtype):
    logits = np.array([[BIG, 0.0, -BIG], [BIG, 0.0, -BIG], [-BIG, BIG, BIG], [0.0, 0.0, 0.0]])
    targets = np.array([0, 2, 1, 1])
    out, grad = grad_of(lambda t: tg.cross_entropy(t, targets), logits, dtype)
    # per row: logsumexp - logit[target], exactly: 0, 2e4, log 2, log 3
    want = np.mean([0.0, 2 * BIG, np.log(2.0), np.log(3.0)])
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[targets]
    check(out, grad, want, (p - onehot) / len(targets), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_relu_and_mse_at_large_values(dtype):
    out, grad = grad_of(lambda t: t.tanh(), X, dtype)
    check(out, grad, np.tanh(X), 1 - np.tanh(X) ** 2, dtype)
    out, grad = grad_of(lambda t: tg.mse_loss(t, np.zeros(len(X), dtype)), X / 1e2, dtype)
    check(out, grad, np.mean((X / 1e2) ** 2), 2 * (X / 1e2) / len(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_lstm_with_saturated_gates_stays_finite(dtype):
    """Pre-activations of +-1e4 saturate every gate: values and gradients stay finite (no exp overflow)."""
    tg.manual_seed(0)
    lstm = tg.LSTM(2, 3, dtype=dtype)
    x = Tensor((np.random.default_rng(0).choice([-1, 1], (5, 2, 2)) * BIG).astype(dtype))
    out, (_h, _c) = lstm(x)
    loss = tg.cross_entropy(out[-1] * BIG, [0, 2])
    loss.backward()
    assert np.isfinite(loss.data).all() and loss.dtype == dtype
    for name, p in lstm.named_parameters():
        assert p.grad.dtype == dtype and np.isfinite(p.grad).all(), name


@pytest.mark.parametrize("dtype", DTYPES)
def test_parity_with_torch_at_large_values(torch, dtype):
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    x = np.array([[BIG, 0.0, -BIG, 1.0], [-BIG, -BIG, 3.0, BIG]], dtype)
    targets = np.array([2, 1])
    fns = {
        "sigmoid": (lambda t: t.sigmoid(), lambda t: torch.sigmoid(t)),
        "softplus": (lambda t: t.softplus(), lambda t: torch.nn.functional.softplus(t)),
        "softmax": (lambda t: t.softmax(-1), lambda t: torch.softmax(t, -1)),
        "log_softmax": (lambda t: t.log_softmax(-1), lambda t: torch.log_softmax(t, -1)),
        "cross_entropy": (lambda t: tg.cross_entropy(t, targets),
                          lambda t: torch.nn.functional.cross_entropy(t, torch.as_tensor(targets))),
    }
    seed = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    for name, (ours, theirs) in fns.items():
        a = Tensor(x, requires_grad=True)
        b = torch.tensor(x, dtype=tdtype, requires_grad=True)
        out, ref = ours(a), theirs(b)
        v = np.ones((), dtype) if out.ndim == 0 else seed
        out.backward(v)
        ref.backward(torch.from_numpy(np.asarray(v)))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), **tol(dtype), err_msg=name)
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **tol(dtype), err_msg=name)


def test_sigmoid_of_float16_keeps_its_tiny_values():
    """e^-x overflows float16 from x = -11.1: the values below that (down to 6e-8) must not become 0."""
    x = np.array([-16.0, -14.0, -12.0, -11.5, -1.0, 0.0, 3.0, 20.0])
    out, grad = grad_of(lambda t: t.sigmoid(), x, np.float16)
    s = exact_sigmoid(x)
    assert out.data.dtype == np.float16 and grad.dtype == np.float16
    np.testing.assert_allclose(out.data, s, rtol=2e-3, atol=1e-7)
    np.testing.assert_allclose(grad, s * (1 - s), rtol=2e-3, atol=1e-7)
    assert (out.data[:4] > 0).all()


@pytest.mark.parametrize("dtype, want", [(np.int8, np.float16), (np.int32, np.float64), (np.int64, np.float64),
                                         (np.bool_, np.float16)])
def test_sigmoid_of_integers_is_a_float_of_numpys_choice(dtype, want):
    x = np.array([-20, -1, 0, 1], dtype=dtype)
    out = Tensor(x, dtype=dtype).sigmoid().data
    assert out.dtype == want
    np.testing.assert_allclose(out, exact_sigmoid(x), rtol=1e-3 if want == np.float16 else 1e-13, atol=1e-8)
