"""Optimisers against torch.optim step by step, and the seed's gradient clipping."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import optim


def run_both(torch, make_ours, make_theirs, steps=5):
    """Minimise sum(c p^3 + c p) with both optimisers from the same start; compare after every step."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    coef = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours = [tg.Tensor(a.copy(), requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt, topt = make_ours(ours), make_theirs(theirs)
    for _ in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        sum(((p * p * p) * c).sum() + (p * c).sum() for p, c in zip(ours, coef)).backward()
        sum(((p ** 3) * torch.tensor(c)).sum() + (p * torch.tensor(c)).sum() for p, c in zip(theirs, coef)).backward()
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(torch, momentum):
    run_both(torch, lambda ps: optim.SGD(ps, lr=0.1, momentum=momentum),
             lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=momentum))


@pytest.mark.parametrize("betas,eps", [((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3)])
def test_adam_matches_torch(torch, betas, eps):
    run_both(torch, lambda ps: optim.Adam(ps, lr=0.05, betas=betas, eps=eps),
             lambda ps: torch.optim.Adam(ps, lr=0.05, betas=betas, eps=eps), steps=8)


def test_parameters_without_grad_are_skipped_and_zero_grad_clears():
    a, b = tg.Tensor(np.ones(2), requires_grad=True), tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    opt.step()
    assert np.all(a.data < 1) and np.all(b.data == 1)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_clip_grad_norm_with_eps_0_is_the_seeds_rule():
    a, b = tg.Tensor(np.zeros(2), requires_grad=True), tg.Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    assert tg.clip_grad_norm([a, b], max_norm=10.0, eps=0) == 5.0      # below the limit: untouched
    np.testing.assert_array_equal(a.grad, [3.0, 0.0])
    assert tg.clip_grad_norm([a, b], max_norm=1.0, eps=0) == 5.0       # above: all scaled by max_norm / norm
    np.testing.assert_array_equal(a.grad, [3.0 * (1.0 / 5.0), 0.0])
    np.testing.assert_array_equal(b.grad, [4.0 * (1.0 / 5.0)])
    assert math.isclose(tg.clip_grad_norm([a, b], 1.0, eps=0), 1.0)
    c = tg.Tensor(np.zeros(1), requires_grad=True)              # a parameter with no grad is ignored
    assert math.isclose(tg.clip_grad_norm([a, b, c], 1.0, eps=0), 1.0) and c.grad is None


def test_clip_grad_norm_default_is_torchs_eps_rule():
    a = tg.Tensor(np.zeros(2), requires_grad=True)
    a.grad = np.array([3.0, 4.0])
    tg.clip_grad_norm(a, 1.0)                                   # a single tensor, as torch accepts
    np.testing.assert_array_equal(a.grad, np.array([3.0, 4.0]) * (1.0 / (5.0 + 1e-6)))
    a.grad = np.array([0.6, 0.8])                               # norm 1 = max_norm: torch still scales by 1/(1+1e-6)
    tg.clip_grad_norm(a, 1.0)
    np.testing.assert_array_equal(a.grad, np.array([0.6, 0.8]) * (1.0 / (1.0 + 1e-6)))


def grads_pair(torch, seed, scale=10.0, special=None):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((3, 4)) * scale, rng.standard_normal(5) * scale]
    if special is not None:
        arrays[1][2] = special
    ours, theirs = [], []
    for g in arrays:
        p = tg.Tensor(np.zeros(g.shape), requires_grad=True)
        p.grad = g.copy()
        tp = torch.zeros(g.shape, requires_grad=True)
        tp.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    ours, theirs = grads_pair(torch, 3)
    norm = tg.clip_grad_norm(ours, max_norm, norm_type=norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert math.isclose(norm, float(tnorm), rel_tol=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("special", [np.inf, np.nan])
def test_clip_grad_norm_nonfinite_as_torch(torch, special):
    ours, theirs = grads_pair(torch, 4, special=special)
    with pytest.raises(RuntimeError, match="non-finite|cannot be clipped"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match=r"clip_grad_norm: the total norm of order 2.0 .* cannot be clipped"):
        tg.clip_grad_norm(ours, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ours[0].grad, theirs[0].grad.numpy())     # the error changed nothing
    norm = tg.clip_grad_norm(ours, 1.0)
    tnorm = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert np.isnan(norm) == bool(torch.isnan(tnorm)) and (np.isnan(norm) or norm == float(tnorm))
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())


def test_clip_grad_value_matches_torch(torch):
    ours, theirs = grads_pair(torch, 5, scale=2.0)
    tg.optim.clip_grad_value(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
        assert np.abs(p.grad).max() == 0.7
    single = tg.Tensor(np.zeros(2), requires_grad=True)
    single.grad = np.array([-3.0, 0.25])
    tg.optim.clip_grad_value_(single, 1.0)
    np.testing.assert_array_equal(single.grad, [-1.0, 0.25])


SGD_OPTIONS = [dict(momentum=0.9, nesterov=True), dict(momentum=0.9, dampening=0.3),
               dict(weight_decay=0.1), dict(momentum=0.5, weight_decay=0.05, nesterov=True),
               dict(momentum=0.8, dampening=0.5, weight_decay=0.2)]


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=str)
def test_sgd_options_match_torch(torch, options):
    run_both(torch, lambda ps: optim.SGD(ps, lr=0.05, **options),
             lambda ps: torch.optim.SGD(ps, lr=0.05, **options), steps=6)


ADAM_OPTIONS = [dict(weight_decay=0.1), dict(amsgrad=True), dict(weight_decay=0.05, amsgrad=True)]


@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=str)
def test_adam_options_match_torch(torch, options):
    run_both(torch, lambda ps: optim.Adam(ps, lr=0.05, **options),
             lambda ps: torch.optim.Adam(ps, lr=0.05, **options), steps=8)


@pytest.mark.parametrize("options", [{}, dict(weight_decay=0.3), dict(weight_decay=0.1, amsgrad=True),
                                     dict(betas=(0.5, 0.9), eps=1e-3)], ids=str)
def test_adamw_matches_torch(torch, options):
    run_both(torch, lambda ps: optim.AdamW(ps, lr=0.05, **options),
             lambda ps: torch.optim.AdamW(ps, lr=0.05, **options), steps=8)


def test_sgd_momentum_buffer_is_not_the_grad():
    p = tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.array([1.0, 2.0])
    opt.step()
    p.grad[:] = 100.0                                          # an in-place change to .grad after the step
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], [1.0, 2.0])


def test_clip_grad_norm_matches_torch_when_clipping(torch):
    g = np.random.default_rng(1).standard_normal((3, 4)) * 10
    p = tg.Tensor(np.zeros((3, 4)), requires_grad=True)
    p.grad = g.copy()
    tp = torch.zeros(3, 4, requires_grad=True)
    tp.grad = torch.tensor(g)
    assert math.isclose(tg.clip_grad_norm([p], 2.0), float(torch.nn.utils.clip_grad_norm_([tp], 2.0)))
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-5)   # torch divides by norm + 1e-6


def test_bad_arguments_are_named():
    p = tg.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty list of parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"parameter 0 must be a leaf Tensor such as a Parameter"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match=r"lr must lie in \[0.0, inf\), got -0.1"):   # lr=0 is allowed, as in torch
        optim.Adam([p], lr=-0.1)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0.0, 1.0\)"):
        optim.SGD([p], lr=0.1, momentum=1.5)
    with pytest.raises(TypeError, match=r"betas must be a pair"):
        optim.Adam([p], betas=0.9)
    with pytest.raises(ValueError, match=r"max_norm must lie in \(0.0, inf\)"):
        tg.clip_grad_norm([p], -1)
    with pytest.raises(ValueError, match=r"nesterov=True needs momentum > 0 and dampening = 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"AdamW: weight_decay must lie in \[0.0, inf\)"):
        optim.AdamW([p], weight_decay=-1)
    with pytest.raises(ValueError, match=r"clip_grad_norm: norm_type must lie in \(0.0, inf\)"):
        tg.clip_grad_norm([p], 1.0, norm_type=0)
    with pytest.raises(TypeError, match=r"clip_grad_value: clip_value must be a number"):
        tg.optim.clip_grad_value([p], "1")
