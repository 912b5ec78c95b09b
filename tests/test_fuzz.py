"""Property-based fuzzing of the whole op set (hypothesis).

Random graphs over every op: random shapes with broadcasting, empty and size-1 dims, float32/float64 mixes,
shared subexpressions (any earlier tensor may be used again, `a * a` included) -- values and gradients against
finite differences, against PyTorch where installed, and numpy's dtype promotion; plus random recurrent layers
against PyTorch.

The number of examples per test is TINYGRAD_RNN_FUZZ_EXAMPLES (default: a fast, derandomized profile for CI).
A long run, once, locally:

    TINYGRAD_RNN_FUZZ_EXAMPLES=3000 python -m pytest tests/test_fuzz.py -q
"""
import os

import numpy as np
import pytest
from expressions import OPS, TG, _params, assert_same_as_torch, programs, run, torch_backend
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg

EXAMPLES = int(os.environ.get("TINYGRAD_RNN_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXAMPLES or 40, deadline=None, derandomize=not EXAMPLES, database=None if not EXAMPLES
                else settings.default.database, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


# ---- the generator -------------------------------------------------------------------------------------

def _reduced_axes(axis, nd):
    return tuple(range(nd)) if axis is None else tuple(int(k) % nd for k in np.atleast_1d(axis))


def params_for(draw, name, a):
    """expressions._params, made safe for empty arrays (numpy's max of nothing is an error, not a value)."""
    if a.size:
        return _params(draw, name, a)
    nd = a.ndim
    if name == "relu":
        return {}
    if name == "max":
        if nd == 0:
            return None
        axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1)))
        if any(a.shape[k] == 0 for k in _reduced_axes(axis, nd)):
            return None                                  # max over nothing: an error in numpy and torch alike
        return {"axis": axis, "keepdims": draw(st.booleans())}
    if name == "getitem":
        axes = [k for k in range(nd) if a.shape[k] > 0]
        if not axes:
            return {"index": (slice(None),) * draw(st.integers(0, nd)) if nd else None} if nd else None
        axis = draw(st.sampled_from(axes))
        lead, n = (slice(None),) * axis, a.shape[axis]
        kind = draw(st.sampled_from(["int", "array", "empty-array"]))
        if kind == "int":
            return {"index": lead + (draw(st.integers(-n, n - 1)),)}
        picks = [] if kind == "empty-array" else draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
        return {"index": lead + (np.array(picks, dtype=np.intp),)}
    return _params(draw, name, a)


def graphs(dtypes=(F64,), empty=True, max_steps=6):
    """expressions.programs with empty and size-1 dims, dtype mixes and this file's params (empty indices)."""
    return programs(max_steps=max_steps, dtypes=dtypes, empty=empty, params_for=params_for)


def leaves(values, dtype=None):
    return [tg.Tensor(v if dtype is None else v.astype(dtype), requires_grad=True, name=f"x{i}")
            for i, v in enumerate(values)]


# ---- against finite differences ------------------------------------------------------------------------

@FUZZ
@given(graphs())
def test_values_and_gradients_match_finite_differences(case):
    values, program = case
    xs = leaves(values)
    out = run(TG, program, xs)
    assume(out.requires_grad)
    assert tg.gradcheck(lambda *xs: run(TG, program, xs), xs)
    v = np.random.default_rng(0).standard_normal(out.shape)
    (out * v).sum().backward()
    for x in xs:                                         # every leaf the output depends on gets a gradient
        assert x.grad is None or (x.grad.shape == x.shape and x.grad.dtype == x.dtype)


@FUZZ
@given(graphs())
def test_the_walk_visits_every_node_once_and_sums_every_edge(case):
    """Each intermediate's gradient is the sum of what its uses sent; each leaf's .grad likewise."""
    values, program = case
    xs = leaves(values)
    out = run(TG, program, xs)
    assume(out.requires_grad)
    seed = np.random.default_rng(1).standard_normal(out.shape)
    steps = list(tg.walk(out, seed))
    nodes = tg.graph(out)
    assert [s.node for s in steps] == nodes[::-1]
    into = {}
    for n in nodes:
        for t, g in zip(n.inputs, n.input_grads):
            if g is not None:
                assert g.shape == t.shape and g.dtype == t.dtype
                into.setdefault(id(t), []).append(g)
    for n in nodes[:-1]:
        np.testing.assert_allclose(n.grad, sum(into[id(n.output)]), rtol=1e-12, atol=1e-12)
    for x in xs:
        assert (x.grad is None) == (id(x) not in into)
        if x.grad is not None:
            np.testing.assert_allclose(x.grad, sum(into[id(x)]), rtol=1e-12, atol=1e-12)


@FUZZ
@given(graphs(dtypes=(F32, F64)))
def test_the_lean_backward_gives_the_same_gradients(case):
    """backward(keep_grads=False) (lazy slices and deferred matmul terms) against the plain walk: equal
    gradients and dtypes; every leaf owns its .grad (changing one in place changes nothing else), and a second
    backward over a retained graph adds the same amount again."""
    values, program = case
    plain, lean = leaves(values), leaves(values)
    out_p, out_l = run(TG, program, plain), run(TG, program, lean)
    assume(out_p.requires_grad)
    v = np.random.default_rng(4).standard_normal(out_p.shape).astype(out_p.dtype)
    out_p.backward(v, retain_graph=True, keep_grads=True)
    out_l.backward(v, retain_graph=True, keep_grads=False)
    for a, b in zip(plain, lean):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert a.grad.dtype == b.grad.dtype == a.dtype and b.grad.shape == b.shape
            np.testing.assert_allclose(b.grad, a.grad, rtol=1e-5 if a.dtype == F32 else 1e-12, atol=1e-6)
    firsts = [None if b.grad is None else b.grad.copy() for b in lean]
    for b in lean:                                   # scribble on every .grad: no other array may change
        if b.grad is not None and b.grad.size:
            b.grad += 1000.0
    out_l.backward(v, keep_grads=False)
    for b, first in zip(lean, firsts):
        if first is not None:
            tol = 1e-4 if b.dtype == F32 else 1e-10
            np.testing.assert_allclose(b.grad, 2 * first + (1000.0 if first.size else 0), rtol=tol, atol=tol)
    assert np.array_equal(v, np.random.default_rng(4).standard_normal(out_p.shape).astype(out_p.dtype))


# ---- dtype mixes ---------------------------------------------------------------------------------------

@FUZZ
@given(graphs(dtypes=(F32, F64)))
def test_float32_and_float64_mix_as_numpy_promotes(case):
    """Every intermediate has numpy's result dtype of its operands (Python constants are weak); every leaf's
    gradient comes back in the leaf's own dtype; values and gradients agree with an all-float64 run."""
    values, program = case
    xs = leaves(values)
    live, want = list(xs), [v.dtype for v in values]
    for name, args, params in program:
        live.append(OPS[name](TG, *(live[k] for k in args), **params))
        want.append(np.result_type(*(want[k] for k in args)))
        assert live[-1].dtype == want[-1], (name, [live[k].dtype for k in args], live[-1].dtype)
    out = live[-1]
    ref_xs = leaves(values, np.float64)
    ref = run(TG, program, ref_xs)
    scale = 1 + float(np.max(np.abs(ref.data), initial=0))
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-4, atol=1e-4 * scale)
    assume(out.requires_grad)
    v = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(v.astype(out.dtype))
    ref.backward(v)
    for x, r in zip(xs, ref_xs):
        assert (x.grad is None) == (r.grad is None)
        if x.grad is not None:
            assert x.grad.dtype == x.dtype and x.grad.shape == x.shape
            gscale = 1 + float(np.max(np.abs(r.grad), initial=0))
            np.testing.assert_allclose(x.grad, r.grad, rtol=1e-3, atol=1e-3 * gscale)


# ---- against PyTorch -----------------------------------------------------------------------------------

def compare_with_torch(torch, program, values, keep_grads=False):
    ours = leaves(values, np.float64)
    theirs = [torch.tensor(v.astype(np.float64), requires_grad=True) for v in values]
    out, ref = run(TG, program, ours), run(torch_backend(torch), program, theirs)
    assert_same_as_torch(out, ref, ours, theirs, keep_grads)


@FUZZ
@given(case=graphs(), keep_grads=st.booleans())
def test_values_and_gradients_match_torch(torch, case, keep_grads):
    """Both walks: the lean one (the default backward) and the one that keeps every edge's gradient."""
    values, program = case
    compare_with_torch(torch, program, values, keep_grads)


LAYERS = {"rnn-tanh": "RNN", "rnn-relu": "RNN", "lstm": "LSTM", "gru": "GRU"}


@FUZZ
@given(kind=st.sampled_from(sorted(LAYERS)), sizes=st.tuples(*[st.integers(1, 3)] * 4),
       batch=st.sampled_from([None, 1, 2]), num_layers=st.integers(1, 2), batch_first=st.booleans(),
       bias=st.booleans(), with_state=st.booleans(), cell=st.booleans(), lean=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_recurrent_layers_and_cells_match_torch(torch, kind, sizes, batch, num_layers, batch_first, bias,
                                                with_state, cell, lean, seed):
    """Random sizes (input, hidden, T, batch; 1 included), layers, batch_first, bias, given or zero states,
    unbatched inputs: outputs, final states and every gradient as torch.nn computes them, in float64."""
    I, H, T, _ = sizes
    base, _, nonlin = kind.partition("-")
    extra = {"nonlinearity": nonlin} if nonlin else {}
    rng = np.random.default_rng(seed)
    if cell:
        ours = getattr(tg, LAYERS[kind] + "Cell")(I, H, bias=bias, dtype=np.float64, **extra)
        theirs = getattr(torch.nn, LAYERS[kind] + "Cell")(I, H, bias=bias, **extra)
        lead = () if batch is None else (batch,)
        x = rng.standard_normal(lead + (I,))
        states = [rng.standard_normal(lead + (H,)) for _ in range(2 if base == "lstm" else 1)]
    else:
        ours = getattr(tg, LAYERS[kind])(I, H, num_layers, bias=bias, batch_first=batch_first, dtype=np.float64,
                                         **extra)
        theirs = getattr(torch.nn, LAYERS[kind])(I, H, num_layers, bias=bias, batch_first=batch_first, **extra)
        x = rng.standard_normal((T, I) if batch is None else (batch, T, I) if batch_first else (T, batch, I))
        states = [rng.standard_normal((num_layers, H) if batch is None else (num_layers, batch, H))
                  for _ in range(2 if base == "lstm" else 1)]
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    tx, x = torch.tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    tstates = [torch.tensor(s, requires_grad=True) for s in states]
    states = [tg.Tensor(s, requires_grad=True) for s in states]
    hx = (tuple(states) if base == "lstm" else states[0]) if with_state else None
    thx = (tuple(tstates) if base == "lstm" else tstates[0]) if with_state else None
    got, want = ours(x, hx), theirs(tx, thx) if thx is not None else theirs(tx)
    flat = lambda r: [r] if not isinstance(r, (tuple, list)) else [a for b in r for a in flat(b)]
    got, want = flat(got), flat(want)
    assert len(got) == len(want)
    v = [rng.standard_normal(g.shape) for g in got]
    sum(((g * w).sum() for g, w in zip(got, v)), tg.Tensor(0.0, dtype=np.float64)).backward(keep_grads=not lean)
    sum((t * torch.from_numpy(w)).sum() for t, w in zip(want, v)).backward()
    for g, t in zip(got, want):
        np.testing.assert_allclose(g.data, t.detach().numpy(), rtol=1e-9, atol=1e-9)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs, name).grad.numpy(), rtol=1e-9, atol=1e-9, err_msg=name)
    for mine, t in [(x, tx)] + (list(zip(states, tstates)) if with_state else []):
        np.testing.assert_allclose(mine.grad, t.grad.numpy(), rtol=1e-9, atol=1e-9)


# ---- what the fuzz found (kept as plain regression tests) ----------------------------------------------

def test_softmax_and_log_softmax_of_an_empty_axis_are_empty(torch):
    for op in ("softmax", "log_softmax"):
        x = tg.Tensor(np.ones((2, 0)), requires_grad=True)
        y = getattr(x, op)(-1)
        assert y.shape == (2, 0) == tuple(getattr(torch, op)(torch.ones(2, 0), -1).shape)
        y.sum().backward()
        assert x.grad.shape == (2, 0)


def test_mean_of_nothing_is_nan_without_warnings():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = tg.Tensor(np.ones((0, 3)), requires_grad=True)
        y = x.mean(axis=0)
        assert y.shape == (3,) and np.isnan(y.data).all() and y.dtype == np.float64
        (x.mean(axis=1).sum() + x.sum()).backward()           # mean over a non-empty axis of an empty x
        y.backward(np.ones(3))
        assert x.grad.shape == (0, 3)


def test_python_numbers_are_weak_and_numpy_scalars_strong_as_in_numpy():
    i = tg.Tensor(np.array([1, 2]), dtype=np.int64)
    assert np.array_equal((i * 0.5).data, [0.5, 1.0]) and (i * 0.5).dtype == np.float64   # was [0, 0]
    assert (i + 1).dtype == np.int64
    f32 = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
    assert (f32 * 2.0).dtype == np.float32 and (2 + f32).dtype == np.float32
    for scalar in (np.float64(2.0), np.array(2.0)):
        y = f32 * scalar
        assert y.dtype == (np.ones(2, np.float32) * scalar).dtype == np.float64
        y.sum().backward()
        assert f32.grad.dtype == np.float32
        f32.grad = None


def test_indexing_with_an_empty_list_and_with_whole_number_tensors():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x[[]].shape == (0, 3) and x[:, []].shape == (2, 0)
    assert np.array_equal(x[tg.Tensor([1, 0])].data, [[3, 4, 5], [0, 1, 2]])   # Tensor([1, 0]) is float32
    with pytest.raises(TypeError, match="whole numbers"):
        x[tg.Tensor([0.7])]                                      # was silently x[0]


def test_split_and_chunk_of_an_empty_axis_give_one_empty_piece():
    x = tg.Tensor(np.ones((0, 3)), requires_grad=True)
    assert [p.shape for p in x.split(2)] == [(0, 3)] and [p.shape for p in x.chunk(3)] == [(0, 3)]


@pytest.mark.parametrize("sa, sb", [((2, 0, 1), (1, 0)), ((2, 3, 0), (0, 4)), ((0,), (0, 3)), ((1, 3, 1), (1, 0)),
                                    ((3, 0), (0, 2)), ((0,), (0,))])
@pytest.mark.parametrize("lean", [False, True])
def test_matmul_with_empty_dims(sa, sb, lean):
    a, b = (tg.Tensor(np.ones(s), requires_grad=True) for s in (sa, sb))
    y = a @ b
    assert y.shape == np.matmul(np.ones(sa), np.ones(sb)).shape
    y.backward(np.ones(y.shape), keep_grads=not lean)
    assert a.grad.shape == sa and b.grad.shape == sb and not a.grad.any() and not b.grad.any()
