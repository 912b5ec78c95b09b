"""Random expressions over the ops, for the property tests and the PyTorch parity tests.

`programs()` is a hypothesis strategy giving (input arrays, program); a program is a list of
(op, operand positions, params) that `run(backend, program, inputs)` evaluates with either backend,
so the very same expression is differentiated by the tape, by finite differences and by PyTorch.
Operands are drawn from every tensor computed so far (inputs included), so tensors are reused often.
Values stay where every op is smooth: no ties under max, no relu input near 0, positive log arguments.
"""
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import tinygrad_rnn as tg


class TG:
    """tinygrad_rnn as a backend."""
    sum = staticmethod(lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims))
    mean = staticmethod(lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims))
    max = staticmethod(lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims))
    softmax = staticmethod(lambda x, axis: x.softmax(axis))
    log_softmax = staticmethod(lambda x, axis: x.log_softmax(axis))
    softplus = staticmethod(lambda x: x.softplus())
    concat = staticmethod(lambda xs, axis: tg.concat(xs, axis))
    stack = staticmethod(lambda xs, axis: tg.stack(xs, axis))
    transpose = staticmethod(lambda x, axes: x.permute(axes))
    index = staticmethod(lambda index: index)
    split = staticmethod(lambda x, sizes, axis: x.split(sizes, axis))
    chunk = staticmethod(lambda x, n, axis: x.chunk(n, axis))
    cross_entropy = staticmethod(tg.cross_entropy)
    mse_loss = staticmethod(tg.mse_loss)
    linear = staticmethod(tg.linear)
    tensor = staticmethod(lambda a: tg.Tensor(a))


def torch_backend(torch):
    """PyTorch as a backend (amax for max: like ours it shares the gradient between ties)."""
    def dims(x, axis):
        return tuple(range(x.ndim)) if axis is None else axis

    def reduce(f):
        return lambda x, axis, keepdims: x if x.ndim == 0 else f(x, dims(x, axis), keepdim=keepdims)

    def index(i):
        parts = i if isinstance(i, tuple) else (i,)
        parts = tuple(torch.from_numpy(p) if isinstance(p, np.ndarray) else p for p in parts)
        return parts if isinstance(i, tuple) else parts[0]

    class Torch:
        sum = staticmethod(reduce(torch.sum))
        mean = staticmethod(reduce(torch.mean))
        max = staticmethod(reduce(torch.amax))
        softmax = staticmethod(lambda x, axis: torch.softmax(x, axis))
        log_softmax = staticmethod(lambda x, axis: torch.log_softmax(x, axis))
        softplus = staticmethod(lambda x: torch.logaddexp(torch.zeros_like(x), x))
        concat = staticmethod(lambda xs, axis: torch.cat(xs, axis))
        stack = staticmethod(lambda xs, axis: torch.stack(xs, axis))
        transpose = staticmethod(lambda x, axes: x.permute(axes))
        split = staticmethod(lambda x, sizes, axis: torch.split(x, sizes, axis))
        chunk = staticmethod(lambda x, n, axis: torch.chunk(x, n, axis))
        cross_entropy = staticmethod(lambda x, t: torch.nn.functional.cross_entropy(x, torch.as_tensor(t)))
        mse_loss = staticmethod(torch.nn.functional.mse_loss)
        linear = staticmethod(torch.nn.functional.linear)
        tensor = staticmethod(torch.as_tensor)
    Torch.index = staticmethod(index)
    return Torch


# op name -> fn(backend, *operands, **params)
OPS = {
    "add": lambda B, a, b: a + b,
    "sub": lambda B, a, b: a - b,
    "mul": lambda B, a, b: a * b,
    "div": lambda B, a, b: a / (b * b + 0.5),
    "pow": lambda B, a, b: (a * a + 0.5) ** b.tanh(),
    "matmul": lambda B, a, b: a @ b,
    "linear": lambda B, a, b: B.linear(a, b, b[:, 0] * 0.5),    # x W^T + b with a bias made from W
    "gram": lambda B, a: a @ (B.transpose(a, tuple(range(a.ndim - 2)) + (-1, -2)) if a.ndim > 1 else a),
    "rsub": lambda B, a: 2.0 - a,
    "rdiv": lambda B, a: 1.0 / (a * a + 0.5),
    "sqrt": lambda B, a: (a * a + 0.5) ** 0.5,
    "inverse": lambda B, a: (a * a + 0.5) ** -1,
    "square": lambda B, a: a ** 2,
    "rpow": lambda B, a: 2.0 ** a.tanh(),
    "neg": lambda B, a: -a,
    "exp": lambda B, a: a.tanh().exp(),
    "log": lambda B, a: (a * a + 0.1).log(),
    "tanh": lambda B, a: a.tanh(),
    "sigmoid": lambda B, a: a.sigmoid(),
    "relu": lambda B, a: a.relu(),
    "softplus": lambda B, a: B.softplus(a),
    "softmax": lambda B, a, axis: B.softmax(a, axis),
    "log_softmax": lambda B, a, axis: B.log_softmax(a, axis),
    "sum": lambda B, a, axis, keepdims: B.sum(a, axis, keepdims),
    "mean": lambda B, a, axis, keepdims: B.mean(a, axis, keepdims),
    "max": lambda B, a, axis, keepdims: B.max(a, axis, keepdims),
    "reshape": lambda B, a, shape: a.reshape(shape),
    "transpose": lambda B, a, axes: B.transpose(a, axes),
    "getitem": lambda B, a, index: a[B.index(index)],
    "concat": lambda B, a, b, axis: B.concat([a, b], axis),
    "stack": lambda B, a, b, axis: B.stack([a, b], axis),
}
BINARY = {"add", "sub", "mul", "div", "pow", "matmul", "linear", "concat", "stack"}


def run(B, program, inputs):
    """Evaluate a program; the result is its last tensor."""
    live = list(inputs)
    for name, args, params in program:
        live.append(OPS[name](B, *(live[i] for i in args), **params))
    return live[-1]


def _fits(name, a, b):
    try:
        if name == "matmul":
            return a.ndim > 0 and b.ndim > 0 and np.matmul(np.zeros(a.shape), np.zeros(b.shape)) is not None
        if name == "linear":                              # x (..., in), W (out, in); its bias is W[:, 0]
            return a.ndim > 0 and b.ndim == 2 and b.shape[1] > 0 and a.shape[-1] == b.shape[1]
        if name in ("concat", "stack"):
            return a.shape == b.shape and (a.ndim > 0 or name == "stack")
        return np.broadcast_shapes(a.shape, b.shape) is not None
    except ValueError:
        return False


def _margin(x, axes):
    """The gap between the largest and second-largest values over `axes` (inf when only one value)."""
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0))).reshape(x.shape[:x.ndim - len(axes)] + (-1,))
    if moved.shape[-1] < 2:
        return np.inf
    top = np.sort(moved, axis=-1)
    return float(np.min(top[..., -1] - top[..., -2]))


def _params(draw, name, a):
    """Parameters for op `name` on the array `a`, or None when the op does not apply to it."""
    nd = a.ndim
    if name in ("softmax", "log_softmax"):
        return None if nd == 0 else {"axis": draw(st.integers(-nd, nd - 1))}
    if name in ("sum", "mean", "max"):
        axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1) if nd else st.none(),
                              st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)
                              if nd else st.none()))
        axes = tuple(range(nd)) if axis is None else tuple(int(k) % nd for k in np.atleast_1d(axis))
        if name == "max" and _margin(a, axes) < 1e-3:    # a tie (or near-tie): max has no derivative there
            return None
        return {"axis": axis, "keepdims": draw(st.booleans())}
    if name == "gram":
        return None if nd == 0 else {}
    if name == "concat":
        return {"axis": draw(st.integers(-nd, nd - 1))}
    if name == "stack":
        return {"axis": draw(st.integers(-nd - 1, nd))}
    if name == "relu":
        return {} if a.size and np.min(np.abs(a)) > 1e-3 else None
    if name == "reshape":
        return {"shape": draw(st.sampled_from([(-1,), a.shape[::-1], (1,) + a.shape]))}
    if name == "transpose":
        return None if nd < 2 else {"axes": tuple(draw(st.permutations(range(nd))))}
    if name == "getitem":
        if nd == 0:
            return None
        axis = draw(st.integers(0, nd - 1))
        n = a.shape[axis]
        lead = (slice(None),) * axis
        kind = draw(st.sampled_from(["int", "slice", "array", "mask"]))
        if kind == "int":
            return {"index": lead + (draw(st.integers(-n, n - 1)),)}
        if kind == "slice":
            start = draw(st.integers(0, n - 1))
            return {"index": lead + (slice(start, None, draw(st.integers(1, 2))),)}
        if kind == "array":                               # repeated indices scatter-add in the backward
            return {"index": lead + (np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))),)}
        mask = a > 0
        return {"index": mask} if mask.any() else None
    return {}


@st.composite
def programs(draw, max_steps=6, dtypes=(np.float64,), empty=False, params_for=None):
    """(input arrays, program): 1-3 inputs broadcastable to one small shape (with `empty`, axes may be 0 long),
    each of a dtype drawn from `dtypes`; then up to max_steps ops, each applied to the newest tensor or to any
    earlier one, so that intermediates are shared between later ops. The ops are picked by a seeded numpy
    generator (hypothesis' own choices lean to the first option); params_for(draw, op, array) picks params."""
    params_for = params_for or _params
    sizes = [2, 3, 1, 2, 3, 1, 0] if empty else [2, 3, 1]
    base = tuple(draw(st.sampled_from(sizes)) for _ in range(draw(st.sampled_from([2, 3, 1] + [0] * empty))))
    shapes = []
    for _ in range(draw(st.sampled_from([2, 3, 1]))):
        keep = len(base) - draw(st.integers(0, len(base)))    # drop leading axes, set some to 1: broadcasting
        shapes.append(tuple(1 if draw(st.booleans()) else n for n in base[len(base) - keep:]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    values = [rng.standard_normal(s).astype(draw(st.sampled_from(dtypes))) for s in shapes]
    live = [tg.Tensor(v.astype(np.float64)) for v in values]
    program = []
    with tg.no_grad():
        for _ in range(draw(st.sampled_from(range(max_steps, 0, -1)))):
            name = str(rng.choice(sorted(OPS)))
            newest = len(live) - 1
            i = newest if draw(st.booleans()) else draw(st.integers(0, newest))   # deep chains and reuse
            args = (i,)
            if name in BINARY:
                fits = [j for j, t in enumerate(live) if _fits(name, live[i], t)]
                if not fits and name == "matmul":
                    name, fits = "gram", None
                elif not fits:
                    continue
                args = (i, draw(st.sampled_from(fits))) if fits else (i,)
            params = params_for(draw, name, live[i].data)
            if params is None:
                continue
            out = OPS[name](TG, *(live[k] for k in args), **params)
            too_big = out.data.size > 64 or (out.data.size == 0 and not empty)
            if too_big or not np.all(np.abs(out.data) < 1e3):        # (nan fails this too)
                continue
            live.append(out)
            program.append((name, args, params))
    assume(program)
    return values, program


def assert_same_as_torch(out, ref, ours, theirs, keep_grads=False, seed=3, tol=1e-10):
    """Our output and ref (torch's) agree in value, and after backward with the same random v, every input's
    gradient agrees too (an input torch gives no gradient gets none, or zeros, from us)."""
    assert out.shape == tuple(ref.shape) and out.dtype == np.float64
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=tol, atol=tol)
    if not ref.requires_grad:
        assert not out.requires_grad
        return
    v = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(v, keep_grads=keep_grads)
    ref.backward(ref.new_tensor(v))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad), f"input {i}"
        else:
            assert x.grad is not None and x.grad.shape == tuple(t.grad.shape), f"input {i}"
            np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=tol, atol=tol, err_msg=f"gradient of input {i}")
