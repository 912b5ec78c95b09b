"""Property-based tests: random expressions over the ops (random small shapes, broadcasting, reuse)."""
import numpy as np
from hypothesis import HealthCheck, given, settings

import tinygrad_rnn as tg
from expressions import TG, programs, run

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def leaves(values):
    return [tg.Tensor(v, requires_grad=True, name=f"x{i}") for i, v in enumerate(values)]


@FAST
@given(programs())
def test_random_expressions_match_finite_differences(case):
    values, program = case
    assert tg.gradcheck(lambda *xs: run(TG, program, xs), leaves(values))


@FAST
@given(programs())
def test_tape_bookkeeping_on_random_expressions(case):
    """Every gradient on the tape is the sum of the edge contributions that reached it."""
    values, program = case
    xs = leaves(values)
    out = run(TG, program, xs)
    if not out.requires_grad:                       # e.g. a program that only reads a constant mask
        return
    seed = np.random.default_rng(0).standard_normal(out.shape)
    steps = list(tg.walk(out, seed))
    nodes = tg.graph(out)
    assert [s.node for s in steps] == nodes[::-1]   # the walk visits the whole graph, newest first
    assert [s.number for s in steps] == list(range(len(nodes)))
    into = {}                                       # id(tensor) -> contributions sent to it
    for n in nodes:
        assert n.grad.shape == n.output.shape and n.grad.dtype == n.output.dtype
        for t, g in zip(n.inputs, n.input_grads):
            assert (g is None) == (not t.requires_grad)      # constants get no gradient, everything else does
            if g is not None:
                assert g.shape == t.shape and g.dtype == t.dtype
                into.setdefault(id(t), []).append(g)
    np.testing.assert_array_equal(nodes[-1].grad, seed)
    for n in nodes[:-1]:                            # an intermediate's gradient: the sum over its uses
        np.testing.assert_allclose(n.grad, sum(into[id(n.output)]), rtol=1e-12, atol=1e-12)
    for x in xs:                                    # a leaf's .grad: the sum over its uses (or None)
        if id(x) in into:
            np.testing.assert_allclose(x.grad, sum(into[id(x)]), rtol=1e-12, atol=1e-12)
        else:
            assert x.grad is None


@FAST
@given(programs(max_steps=3))
def test_float32_programs_stay_float32(case):
    values, program = case
    xs = [tg.Tensor(v.astype(np.float32), requires_grad=True) for v in values]
    out = run(TG, program, xs)
    assert out.dtype == np.float32
    if out.requires_grad:
        out.backward(np.ones(out.shape, np.float32))
        assert all(x.grad is None or x.grad.dtype == np.float32 for x in xs)
