"""gradcheck (float64 central differences) for every op in tinygrad_rnn.core.ops.OPS.

Each case names the ops it exercises; a case fails if those ops are not on its tape, and
`test_every_op_has_a_gradcheck_case` fails when an op is registered in OPS without a case here.
"""
import importlib
import pkgutil

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor

rng = np.random.default_rng(1234)


def r(*shape):                        # any values
    return rng.standard_normal(shape)


def pos(*shape):                      # bases of log, sqrt, pow: bounded away from 0
    return rng.uniform(0.5, 2.0, shape)


def away(*shape):                     # denominators, relu inputs: |x| >= 0.3, both signs
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def distinct(*shape):                 # max inputs: no ties anywhere (gaps of at least 0.1)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.15 + rng.uniform(0, 0.05, n)).reshape(shape)


CASES = []   # (id, ops the case must record, fn, input arrays, which inputs require grad, float32 ok)


def case(id, ops, fn, *arrays, grad=None, f32=True):
    CASES.append(pytest.param(set(ops.split()), fn, arrays, grad or [True] * len(arrays), f32, id=id))


# ---- + - * / ** with every broadcasting pattern --------------------------------------------------
BROADCAST = [((2, 3), (2, 3)), ((2, 3), ()), ((), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)),
             ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((2, 1), (1, 3)), ((4, 2, 3), (2, 3)),
             ((2, 3), (4, 1, 3)), ((4, 1, 3), (2, 1)), ((1,), (2, 1, 1))]
BINARY = {"add": (lambda a, b: a + b, r, r), "sub": (lambda a, b: a - b, r, r),
          "mul": (lambda a, b: a * b, r, r), "div": (lambda a, b: a / b, r, away),
          "pow": (lambda a, b: a ** b, pos, r)}
for name, (fn, left, right) in BINARY.items():
    for sa, sb in BROADCAST:
        case(f"{name}-{sa}-{sb}", name, fn, left(*sa), right(*sb))
    case(f"{name}-const-right", name, fn, left(2, 3), right(3), grad=[True, False])
    case(f"{name}-const-left", name, fn, left(2, 3), right(2, 3), grad=[False, True])

# ---- Python scalars and numpy arrays on either side ----------------------------------------------
case("scalar-rsub", "sub", lambda x: 2.0 - x, r(2, 3))
case("scalar-sub", "sub", lambda x: x - 2.0, r(2, 3))
case("scalar-radd", "add", lambda x: 1.5 + x, r(3))
case("scalar-rmul", "mul", lambda x: 3.0 * x, r(2, 3))
case("scalar-mul-int", "mul", lambda x: x * 3, r(2, 3))
case("scalar-rdiv", "div", lambda x: 1.0 / x, away(2, 3))
case("scalar-div", "div", lambda x: x / 4.0, r(2, 3))
case("scalar-sqrt", "pow", lambda x: x ** 0.5, pos(2, 3))
case("scalar-pow-minus-one", "pow", lambda x: x ** -1, away(2, 3))
case("scalar-square-negative-base", "pow", lambda x: x ** 2, r(2, 3))
case("scalar-cube", "pow", lambda x: x ** 3, r(4))
case("scalar-rpow", "pow", lambda x: 2.0 ** x, r(2, 3))
case("numpy-left", "mul add", lambda x: np.arange(3.0) * x + np.ones((2, 1)), r(2, 3), f32=False)
case("numpy-right", "sub div", lambda x: (x - np.arange(3.0)) / np.full(3, 2.0), r(2, 3), f32=False)
case("neg", "neg", lambda x: -x, r(2, 3))

# ---- tensor ** tensor ----------------------------------------------------------------------------
case("pow-tensor-tensor", "pow", lambda a, b: a ** b, pos(3, 2), r(3, 2))
case("pow-tensor-tensor-broadcast", "pow", lambda a, b: a ** b, pos(3, 1), r(1, 4))
case("pow-shared", "pow", lambda a: a ** a, pos(2, 3))

# ---- matmul ----------------------------------------------------------------------------------------
MATMUL = [((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
          ((1, 2, 3), (5, 3, 4)), ((5, 2, 3), (1, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((3,), (3,)),
          ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((1, 3), (3, 1))]
for sa, sb in MATMUL:
    case(f"matmul-{sa}-{sb}", "matmul", lambda a, b: a @ b, r(*sa), r(*sb))
case("matmul-const-left", "matmul", lambda a, b: a @ b, r(5, 2, 3), r(3, 4), grad=[False, True])
case("matmul-const-right", "matmul", lambda a, b: a @ b, r(5, 2, 3), r(3, 4), grad=[True, False])
case("matmul-numpy-left", "matmul", lambda b: np.ones((2, 3)) @ b, r(3, 4), f32=False)
case("matmul-self-transposed", "matmul transpose", lambda a: a @ a.T, r(3, 4))

# ---- linear: x W^T + b in one op (x (..., in), W (out, in), b (out,) or none) ---------------------------
for sx in [(2, 3), (3,), (5, 2, 3), (2, 1, 2, 3), (1, 3)]:
    case(f"linear-{sx}", "linear", lambda x, W, b: tg.linear(x, W, b), r(*sx), r(4, 3), r(4))
    case(f"linear-{sx}-no-bias", "linear", lambda x, W: tg.linear(x, W), r(*sx), r(4, 3))
case("linear-const-x", "linear", lambda x, W, b: tg.linear(x, W, b), r(5, 2, 3), r(4, 3), r(4),
     grad=[False, True, True])
case("linear-const-weight", "linear", lambda x, W, b: tg.linear(x, W, b), r(2, 3), r(4, 3), r(4),
     grad=[True, False, True])
case("linear-const-bias", "linear", lambda x, W, b: tg.linear(x, W, b), r(2, 3), r(4, 3), r(4),
     grad=[True, True, False])
case("linear-numpy-x", "linear", lambda W, b: tg.linear(np.ones((2, 3)), W, b), r(4, 3), r(4), f32=False)
case("linear-nn-module-style", "linear", lambda x, W: tg.linear(x, W, W[:, 0] * 1.0), r(2, 3), r(4, 3))
case("linear-shared-weight-per-step", "linear tanh getitem",     # W and b used at every step (their BPTT sum)
     lambda W, b, xs: sum(tg.linear(xs[t], W, b).tanh().sum() for t in range(3)), r(3, 3) * 0.5, r(3), r(3, 2, 3))
for sx in [(2, 3), (3,), (5, 2, 3)]:                  # x W^T + b + r, the sum inside the op (torch.addmm)
    case(f"linear-add-{sx}", "linear", lambda x, W, b, a: tg.linear(x, W, b, add=a), r(*sx), r(4, 3), r(4),
         r(*sx[:-1], 4))
case("linear-add-const-term", "linear", lambda x, W, b, a: tg.linear(x, W, b, add=a), r(2, 3), r(4, 3), r(4),
     r(2, 4), grad=[True, True, True, False])
case("linear-add-only-term", "linear", lambda x, W, b, a: tg.linear(x, W, b, add=a), r(2, 3), r(4, 3), r(4),
     r(2, 4), grad=[False, False, False, True])
case("linear-add-no-bias", "linear add", lambda x, W, a: tg.linear(x, W, add=a), r(2, 3), r(4, 3), r(2, 4))
case("linear-add-recurrent", "linear tanh getitem",   # an RNN step: gx_t + h W_hh^T + b_hh, as the layers do it
     lambda W, b, gx: tg.linear(tg.linear(gx[0], W, b, add=gx[1]).tanh(), W, b, add=gx[2]).tanh(),
     r(3, 3) * 0.5, r(3), r(3, 2, 3))
case("linear-recurrent", "linear tanh", lambda W, b, h: tg.linear(tg.linear(h, W, b).tanh(), W, b).tanh(),
     r(3, 3) * 0.5, r(3), r(2, 3))

# ---- elementwise unary -----------------------------------------------------------------------------
case("exp", "exp", lambda x: x.exp(), r(2, 3))
case("log", "log", lambda x: x.log(), pos(2, 3))
case("tanh", "tanh", lambda x: x.tanh(), r(2, 3))
case("sigmoid", "sigmoid", lambda x: x.sigmoid(), r(2, 3))
case("sigmoid-large", "sigmoid", lambda x: x.sigmoid(), np.array([-40.0, -12.0, -0.7, 0.4, 12.0, 40.0]))
case("relu", "relu", lambda x: x.relu(), away(3, 4))
case("softplus", "softplus", lambda x: x.softplus(), np.array([-40.0, -3.0, -0.2, 0.1, 2.0, 40.0]))

# ---- reductions ------------------------------------------------------------------------------------
for name in ("sum", "mean", "max"):
    for axis in (None, 0, 1, -1, (0, 2), (-1, 0), ()):
        for keepdims in (False, True):
            case(f"{name}-axis={axis}-keepdims={keepdims}", name,
                 lambda x, n=name, a=axis, k=keepdims: getattr(x, n)(axis=a, keepdims=k), distinct(2, 3, 4))
    case(f"{name}-vector", name, lambda x, n=name: getattr(x, n)(), distinct(5))
    case(f"{name}-0d", name, lambda x, n=name: getattr(x, n)(), distinct())
    case(f"{name}-positional", name, lambda x, n=name: getattr(x, n)(1, True), distinct(3, 2))

# ---- shape -------------------------------------------------------------------------------------------
case("reshape-flat", "reshape", lambda x: x.reshape(-1), r(2, 3, 4))
case("reshape-args", "reshape", lambda x: x.reshape(6, 4), r(2, 3, 4))
case("reshape-tuple", "reshape", lambda x: x.reshape((4, -1, 3)), r(2, 3, 4))
case("reshape-scalar", "reshape", lambda x: x.reshape(()), r(1, 1))
case("transpose-T-2d", "transpose", lambda x: x.T, r(2, 3))
case("transpose-T-3d", "transpose", lambda x: x.T, r(2, 3, 4))
case("transpose-swap-2d", "transpose", lambda x: x.transpose(0, 1), r(2, 3))
case("transpose-swap-3d", "transpose", lambda x: x.transpose(1, 2), r(2, 3, 4))
case("transpose-swap-negative", "transpose", lambda x: x.transpose(-1, 0), r(2, 3, 4))
case("permute-args", "transpose", lambda x: x.permute(1, 0, 2), r(2, 3, 4))
case("permute-tuple", "transpose", lambda x: x.permute((2, 0, 1)), r(2, 3, 4))
case("permute-negative", "transpose", lambda x: x.permute(-1, 0, 1), r(2, 3, 4))
case("unsqueeze", "reshape", lambda x: x.unsqueeze(-2), r(2, 3))
case("squeeze", "reshape", lambda x: x.squeeze(), r(2, 1, 3, 1))
case("view", "reshape", lambda x: x.view(3, -1), r(2, 3, 4))

# ---- indexing ----------------------------------------------------------------------------------------
INDEX = {
    "int": 1, "negative-int": -1, "slice": slice(1, None), "step": (slice(None), slice(None, None, 2)),
    "reverse": (slice(None, None, -1), 0), "newaxis-ellipsis": (None, Ellipsis, 1), "int-and-slice": (0, slice(1, 3)),
    "int-array-repeats": np.array([0, 2, 2, 0, 2]), "list-repeats": [1, 1, 0],
    "2d-int-array": np.array([[0, 1], [1, 1]]), "two-int-arrays": (np.array([0, 1, 1, 2]), np.array([3, 0, 0, 3])),
    "slice-and-array": (slice(None), [3, 3, 1]), "bool-mask-rows": np.array([True, False, True]),
    "bool-mask-cols": (slice(None), np.array([True, True, False, True])),
}
for name, index in INDEX.items():
    case(f"getitem-{name}", "getitem", lambda x, i=index: x[i], r(3, 4))
case("getitem-bool-mask-full", "getitem", lambda x: x[x.data > 0], np.array([[1.0, -2.0, 3.0], [-1.5, 0.5, 2.5]]))
case("getitem-tensor-index", "getitem", lambda x: x[Tensor(np.array([2, 0, 2]))], r(3, 4))
case("split-int", "getitem concat", lambda x: tg.concat([p * (i + 1) for i, p in enumerate(x.split(2))]), r(5, 3))
case("split-list-axis-1", "getitem concat",
     lambda x: tg.concat([p * (i + 1) for i, p in enumerate(x.split([1, 3], axis=1))], axis=1), r(2, 4))
case("split-negative-axis", "getitem concat",
     lambda x: tg.concat([p.exp() for p in x.split(1, axis=-1)], axis=-1), r(2, 3))
case("chunk", "getitem stack", lambda x: tg.stack([p.tanh() * (i + 1) for i, p in enumerate(x.chunk(3))]), r(6, 2))
case("chunk-uneven-axis-1", "getitem concat",
     lambda x: tg.concat([p * (i + 1) for i, p in enumerate(x.chunk(3, axis=1))], axis=1), r(2, 5))

# ---- concat / stack --------------------------------------------------------------------------------
case("concat-axis-0", "concat", lambda a, b: tg.concat([a, b]), r(2, 3), r(4, 3))
case("concat-axis-neg", "concat", lambda a, b, c: tg.concat([a, b, c], axis=-1), r(2, 1), r(2, 3), r(2, 2))
case("concat-with-constant", "concat", lambda a, b: tg.concat([a, b], 1), r(2, 2), r(2, 3), grad=[True, False])
case("concat-same-twice", "concat", lambda a: tg.concat([a, a * 2.0, a]), r(2, 3))
case("stack-axis-0", "stack", lambda a, b: tg.stack([a, b]), r(2, 3), r(2, 3))
case("stack-axis-1", "stack", lambda a, b, c: tg.stack([a, b, c], axis=1), r(2, 3), r(2, 3), r(2, 3))
case("stack-axis-neg", "stack", lambda a, b: tg.stack([a, b, a], axis=-1), r(4), r(4))
case("stack-with-constant", "stack", lambda a, b: tg.stack([a, b]), r(3), r(3), grad=[False, True])

# ---- softmax family and losses -----------------------------------------------------------------------
case("softmax", "softmax", lambda x: x.softmax(), r(3, 4))
case("softmax-axis-0", "softmax", lambda x: tg.softmax(x, axis=0), r(3, 4))
case("softmax-3d-axis-1", "softmax", lambda x: x.softmax(1), r(2, 3, 4))
case("softmax-large", "softmax", lambda x: x.softmax(), np.array([[1000.0, 999.0, 998.5], [-1000.0, -1001.0, -999.0]]))
case("log_softmax", "log_softmax", lambda x: x.log_softmax(), r(3, 4))
case("log_softmax-axis-0", "log_softmax", lambda x: tg.log_softmax(x, 0), r(3, 4))
case("log_softmax-3d-axis-1", "log_softmax", lambda x: x.log_softmax(axis=1), r(2, 3, 4))
case("log_softmax-large", "log_softmax", lambda x: x.log_softmax(), np.array([[1000.0, 0.0, -1000.0]]))
case("cross_entropy", "log_softmax getitem mean neg",
     lambda x: tg.cross_entropy(x, np.array([1, 0, 3, 1, 1])), r(5, 4))
case("cross_entropy-tensor-targets", "log_softmax getitem mean",
     lambda x: tg.cross_entropy(x, Tensor(np.array([2, 2, 0]))), r(3, 3))
case("mse_loss", "sub pow mean", lambda p, t: tg.mse_loss(p, t), r(3, 2), r(3, 2))
case("mse_loss-constant-target", "sub pow mean", lambda p, t: tg.mse_loss(p, t), r(4), r(4), grad=[True, False])

# ---- one tensor used several times -----------------------------------------------------------------
case("repeat-a+a", "add", lambda a: a + a, r(2, 3))
case("repeat-x*x", "mul", lambda x: x * x, r(2, 3))
case("repeat-a-a", "sub", lambda a: a - a * 0.5, r(2, 3))
case("repeat-x/x", "div", lambda x: (x + 3.0) / x, away(3))
case("repeat-broadcast-self", "add mul", lambda a: a + a.T * a, r(3, 3))
case("repeat-shared-intermediate", "tanh mul add", lambda x: (lambda h: h * h + h)(x.tanh()), r(2, 3))
case("repeat-shared-weight", "matmul tanh add",
     lambda W, x: ((x @ W).tanh() @ W).tanh() + x @ W, r(3, 3) * 0.5, r(2, 3))


def _rnn(Wx, Ws, b, xs):
    """A 4-step tanh RNN: Wx, Ws and b are used at every step (the BPTT case)."""
    s = Tensor(np.zeros((2, 3), dtype=xs.dtype))
    outs = []
    for t in range(xs.shape[0]):
        with tg.scope(f"t={t}"):
            s = (xs[t] @ Wx + s @ Ws + b).tanh()
        outs.append(s)
    return tg.stack(outs).sum(axis=(1, 2)) + s.sigmoid().mean()


case("rnn-unrolled", "matmul add tanh getitem stack sum sigmoid mean", _rnn,
     r(2, 3) * 0.5, r(3, 3) * 0.5, r(3) * 0.1, r(4, 2, 2))


def _inputs(arrays, grads, dtype=np.float64):
    return [Tensor(np.array(a, dtype=dtype), requires_grad=g) for a, g in zip(arrays, grads)]


@pytest.mark.parametrize("ops, fn, arrays, grads, f32", CASES)
def test_gradcheck(ops, fn, arrays, grads, f32):
    xs = _inputs(arrays, grads)
    recorded = {n.op.name for n in tg.graph(fn(*xs))}
    assert ops <= recorded, f"the case should exercise {sorted(ops)}, its tape holds {sorted(recorded)}"
    assert tg.gradcheck(fn, xs)


@pytest.mark.parametrize("ops, fn, arrays, grads, f32", [c for c in CASES if c.values[-1]])   # not the float64 mixes
def test_float32_stays_float32(ops, fn, arrays, grads, f32):
    """float32 in, float32 out, float32 gradients on every leaf and along every edge of the tape."""
    xs = _inputs(arrays, grads, np.float32)
    out = fn(*xs)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, np.float32), keep_grads=True)
    for x in xs:
        if x.requires_grad:
            assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.shape == x.shape
        else:
            assert x.grad is None
    for node in tg.graph(out):
        assert node.output.dtype == np.float32, node
        assert node.grad.dtype == np.float32, node
        for t, g in zip(node.inputs, node.input_grads):
            assert g is None or (g.dtype == np.float32 and g.shape == t.shape), node


def _all_ops():
    """OPS after importing every module of the package, so ops defined outside ops.py count too."""
    for info in pkgutil.iter_modules(tg.__path__):
        try:
            importlib.import_module(f"tinygrad_rnn.{info.name}")
        except ModuleNotFoundError as err:        # an optional third-party dependency is missing
            if (err.name or "").startswith("tinygrad_rnn"):
                raise
    return set(tg.OPS)


def test_every_op_has_a_gradcheck_case():
    covered = set().union(*(c.values[0] for c in CASES))
    missing = _all_ops() - covered
    assert not missing, f"ops without a gradcheck case in tests/test_ops.py: {sorted(missing)}"


def test_ops_carry_their_rule():
    for name, op in tg.OPS.items():
        assert op.name == name and op.rule and op.latex, name
        assert callable(op.forward) and callable(op.vjp), name


# ---- values (the gradients above are only as good as the forward they differentiate) ------------
def test_forward_values_against_numpy():
    x = r(3, 4)
    p = pos(3, 4)
    t = Tensor(x)
    np.testing.assert_allclose(t.sigmoid().data, 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(t.softplus().data, np.log1p(np.exp(x)), rtol=1e-14)
    np.testing.assert_allclose(t.relu().data, np.maximum(x, 0))
    np.testing.assert_allclose(Tensor(p).log().data, np.log(p))
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(t.softmax().data, e / e.sum(1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(t.log_softmax(0).data, x - np.log(np.exp(x).sum(0, keepdims=True)), rtol=1e-13)
    np.testing.assert_allclose(t.max(axis=(0, 1)).data, x.max())
    targets = np.array([0, 3, 1])
    ce = -np.mean(np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True))[np.arange(3), targets])
    np.testing.assert_allclose(tg.cross_entropy(t, targets).data, ce, rtol=1e-14)
    np.testing.assert_allclose(tg.mse_loss(t, Tensor(p)).data, np.mean((x - p) ** 2), rtol=1e-14)
    assert [s.shape for s in Tensor(r(7, 2)).split(3)] == [(3, 2), (3, 2), (1, 2)]
    assert [s.shape for s in Tensor(r(2, 5)).chunk(2, axis=-1)] == [(2, 3), (2, 2)]


def test_stable_for_large_values():
    """sigmoid, softplus, softmax and log_softmax neither overflow nor warn at |x| = 1000."""
    x = Tensor(np.array([[-1000.0, 0.0, 1000.0]]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s, sp = x.sigmoid(), x.softplus()
        sm, lsm = x.softmax(), x.log_softmax()
        (s.sum() + sp.sum() + sm[0, 0] + lsm.sum()).backward()
    np.testing.assert_array_equal(s.data, [[0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(sp.data, [[0.0, np.log(2.0), 1000.0]])
    np.testing.assert_array_equal(sm.data, [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(lsm.data, [[-2000.0, -1000.0, 0.0]])
    assert np.isfinite(x.grad).all()
    assert tg.cross_entropy(Tensor(np.array([[1000.0, -1000.0]])), [1]).item() == 2000.0


def test_max_shares_gradient_between_ties():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])


def test_gradcheck_fails_on_a_wrong_vjp():
    """The checker itself can fail: a deliberately wrong derivative is caught and located."""
    class Twice:                      # not an ops.Op subclass, so it stays out of OPS
        name = "bad_square"

        def forward(x):
            return x * x, x

        def vjp(g, x, needs):
            return (g * 3 * x,)       # should be 2x

    with pytest.raises(tg.GradcheckError, match=r"input 0 .*shape \(2, 2\).*analytic .* numeric"):
        tg.gradcheck(lambda x: tg.core.tensor.apply(Twice, x), [Tensor(r(2, 2), requires_grad=True)])


def test_gradcheck_fails_on_a_wrongly_shaped_gradient():
    """A vjp that forgets to undo broadcasting (grad of shape (1, 3) for an input of shape (3,)) is an error,
    even when its values are right."""
    class Unsummed:
        name = "bad_shape"

        def forward(x):
            return x[None] * 2.0, None

        def vjp(g, saved, needs):
            return (g * 2.0,)         # shape (1, 3): should be reshaped back to (3,)

    with pytest.raises((tg.GradcheckError, tg.GraphError), match=r"shape"):
        tg.gradcheck(lambda x: tg.core.tensor.apply(Unsummed, x), [Tensor(r(3), requires_grad=True)])
