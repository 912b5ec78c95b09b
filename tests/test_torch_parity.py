"""Parity with PyTorch: the same expressions, values and gradients in float64, to 1e-10.

Uses the `torch` fixture (tests/conftest.py): skipped without torch, a failure when
TINYGRAD_RNN_REQUIRE_TORCH is set (CI).
"""
import numpy as np
import pytest
from expressions import TG, assert_same_as_torch, programs, run, torch_backend
from hypothesis import HealthCheck, given, settings

import tinygrad_rnn as tg

TOL = dict(rtol=1e-10, atol=1e-10)
rng = np.random.default_rng(7)


def r(*shape):
    return rng.standard_normal(shape)


def pos(*shape):
    return rng.uniform(0.5, 2.0, shape)


def away(*shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def compare(torch, fn, arrays, grads=None, seed=0):
    """fn(B, *inputs) with B = our backend and torch's; values and input gradients must agree."""
    grads = grads or [True] * len(arrays)
    ours = [tg.Tensor(np.array(a, dtype=np.float64), requires_grad=g) for a, g in zip(arrays, grads)]
    theirs = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=g) for a, g in zip(arrays, grads)]
    out, ref = fn(TG, *ours), fn(torch_backend(torch), *theirs)
    assert ref.dtype == torch.float64
    assert_same_as_torch(out, ref, ours, theirs, seed=seed, tol=TOL["rtol"])


CASES = []


def case(id, fn, *arrays, grads=None):
    CASES.append(pytest.param(fn, arrays, grads, id=id))


for sa, sb in [((2, 3), (2, 3)), ((2, 3), ()), ((), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((4, 2, 3), (2, 1))]:
    case(f"add-{sa}-{sb}", lambda B, a, b: a + b, r(*sa), r(*sb))
    case(f"sub-{sa}-{sb}", lambda B, a, b: a - b, r(*sa), r(*sb))
    case(f"mul-{sa}-{sb}", lambda B, a, b: a * b, r(*sa), r(*sb))
    case(f"div-{sa}-{sb}", lambda B, a, b: a / b, r(*sa), away(*sb))
    case(f"pow-{sa}-{sb}", lambda B, a, b: a ** b, pos(*sa), r(*sb))
case("scalars-either-side", lambda B, x: (2.0 - x) * 3.0 + 1.0 / x - x / 4.0 + 2.0 ** x, away(2, 3))
case("scalar-powers", lambda B, x: x ** 0.5 + x ** -1 + x ** 2 + x ** 3, pos(5))
case("pow-zero-base", lambda B, a, b: a ** b, np.array([0.0, 0.0, 1.5]), np.array([2.0, 0.0, 0.5]))
case("neg", lambda B, x: -x, r(3))
for sa, sb in [((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((3,), (3,)),
               ((3,), (3, 4)), ((2, 3), (3,)), ((1, 2, 3), (5, 3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,))]:
    case(f"matmul-{sa}-{sb}", lambda B, a, b: a @ b, r(*sa), r(*sb))
for sx in [(2, 3), (3,), (5, 2, 3), (2, 1, 2, 3)]:
    case(f"linear-{sx}", lambda B, x, W, b: B.linear(x, W, b), r(*sx), r(4, 3), r(4))
    case(f"linear-{sx}-no-bias", lambda B, x, W: B.linear(x, W), r(*sx), r(4, 3))
case("linear-const-x", lambda B, x, W, b: B.linear(x, W, b), r(5, 2, 3), r(4, 3), r(4), grads=[False, True, True])
case("linear-per-step", lambda B, W, b, xs: sum(B.linear(xs[t], W, b).tanh().sum() for t in range(3)),
     r(3, 3), r(3), r(3, 2, 3))
case("exp-log-tanh", lambda B, x: x.exp() + x.log() * x.tanh(), pos(2, 3))
case("sigmoid", lambda B, x: x.sigmoid(), np.array([-40.0, -5.0, -0.1, 0.0, 0.2, 5.0, 40.0]))
case("relu", lambda B, x: x.relu(), away(3, 4))
case("softplus", lambda B, x: B.softplus(x), np.array([-40.0, -5.0, -0.1, 0.0, 0.2, 5.0, 15.0]))
for name in ("sum", "mean", "max"):
    for axis in (None, 0, -1, (0, 2)):
        for keepdims in (False, True):
            case(f"{name}-{axis}-{keepdims}", lambda B, x, n=name, a=axis, k=keepdims: getattr(B, n)(x, a, k),
                 r(2, 3, 4))
case("max-ties-shared", lambda B, x: B.max(x, 1, False), np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
case("max-all-ties", lambda B, x: B.max(x, None, False), np.array([[1.0, 3.0], [3.0, 0.0]]))
case("reshape", lambda B, x: x.reshape((4, -1)).reshape(-1), r(2, 3, 4))
case("transpose", lambda B, x: B.transpose(x, (2, 0, 1)) * B.tensor(np.arange(24.0).reshape(4, 2, 3)), r(2, 3, 4))
case("T", lambda B, x: x.T @ x, r(3, 2))
INDEX = {"int": 1, "slice": (slice(None), slice(1, None, 2)), "newaxis": (None, 0),
         "array-repeats": np.array([0, 2, 2, 0]), "2-arrays": (np.array([0, 1, 1]), np.array([2, 0, 2])),
         "mask": np.array([True, False, True]), "mask-cols": (slice(None), np.array([False, True, True, True]))}
for name, index in INDEX.items():
    case(f"getitem-{name}", lambda B, x, i=index: x[B.index(i)], r(3, 4))
case("concat", lambda B, a, b, c: B.concat([a, b, c], -1), r(2, 1), r(2, 3), r(2, 2), grads=[True, False, True])
case("stack", lambda B, a, b: B.stack([a, b, a], 1), r(2, 3), r(2, 3))
case("split", lambda B, x: sum((p * (i + 1)).sum() for i, p in enumerate(B.split(x, 2, 0))), r(5, 3))
case("split-list", lambda B, x: B.concat([p.tanh() for p in B.split(x, [1, 3], 1)], 1), r(2, 4))
case("chunk", lambda B, x: B.stack([p.exp() for p in B.chunk(x, 3, -1)], 0), r(2, 6))
case("softmax", lambda B, x: B.softmax(x, -1) * B.softmax(x, 0), r(3, 4))
case("log_softmax", lambda B, x: B.log_softmax(x, 1), r(2, 3, 4))
case("log_softmax-large", lambda B, x: B.log_softmax(x, -1), np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]]))
case("cross_entropy", lambda B, x: B.cross_entropy(x, np.array([1, 0, 3, 1, 1])), r(5, 4))
case("mse_loss", lambda B, p, t: B.mse_loss(p, t), r(3, 2), r(3, 2))
case("shared-weight", lambda B, W, x: ((x @ W).tanh() @ W).tanh() + x @ W, r(3, 3) * 0.5, r(2, 3))
case("repeats", lambda B, a: a + a + a * a - a / (a * a + 1.0), r(2, 3))


def _rnn(B, Wx, Ws, b, xs):
    s = xs[0] @ Wx * 0.0
    outs = []
    for t in range(xs.shape[0]):
        s = (xs[t] @ Wx + s @ Ws + b).tanh()
        outs.append(s)
    return B.stack(outs, 0).sigmoid().mean() + B.log_softmax(s, -1).sum()


case("rnn-unrolled", _rnn, r(2, 3) * 0.5, r(3, 3) * 0.5, r(3) * 0.1, r(6, 2, 2))


def _rnn_torch_layout(B, W_ih, W_hh, b_ih, b_hh, xs):
    """As torch.nn.RNN: the input projection of all steps in one linear, then linear(h, W_hh, b_hh) per step."""
    gx = B.linear(xs, W_ih, b_ih)
    h = gx[0] * 0.0
    for t in range(xs.shape[0]):
        h = (gx[t] + B.linear(h, W_hh, b_hh)).tanh()
    return (h * h).sum()


case("rnn-linear-unrolled", _rnn_torch_layout, r(3, 2) * 0.5, r(3, 3) * 0.5, r(3) * 0.1, r(3) * 0.1, r(5, 2, 2))


@pytest.mark.parametrize("fn, arrays, grads", CASES)
def test_parity(torch, fn, arrays, grads):
    compare(torch, fn, arrays, grads)


def test_every_op_is_compared_with_torch(torch):
    seen = set()
    for p in CASES:
        fn, arrays, grads = p.values
        xs = [tg.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
        seen |= {n.op.name for n in tg.graph(fn(TG, *xs))}
    assert set(tg.core.ops.OPS) <= seen, sorted(set(tg.core.ops.OPS) - seen)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # torch is stateless
@given(programs())
def test_random_expressions_match_torch(torch, case):
    values, program = case
    compare(torch, lambda B, *xs: run(B, program, xs), values)
