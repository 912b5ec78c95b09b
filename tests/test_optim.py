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


def test_clip_grad_norm_is_the_seeds_rule():
    a, b = tg.Tensor(np.zeros(2), requires_grad=True), tg.Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    assert tg.clip_grad_norm([a, b], max_norm=10.0) == 5.0      # below the limit: untouched
    np.testing.assert_array_equal(a.grad, [3.0, 0.0])
    assert tg.clip_grad_norm([a, b], max_norm=1.0) == 5.0       # above: all scaled by max_norm / norm
    np.testing.assert_allclose(a.grad, [0.6, 0.0])
    np.testing.assert_allclose(b.grad, [0.8])
    assert math.isclose(tg.clip_grad_norm([a, b], 1.0), 1.0)
    c = tg.Tensor(np.zeros(1), requires_grad=True)              # a parameter with no grad is ignored
    assert math.isclose(tg.clip_grad_norm([a, b, c], 1.0), 1.0) and c.grad is None


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
    with pytest.raises(TypeError, match=r"parameter 0 must be a leaf Tensor with requires_grad=True"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match=r"lr must lie in \(0.0, inf\)"):
        optim.Adam([p], lr=0)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0.0, 1.0\)"):
        optim.SGD([p], lr=0.1, momentum=1.5)
    with pytest.raises(TypeError, match=r"betas must be a pair"):
        optim.Adam([p], betas=0.9)
    with pytest.raises(ValueError, match=r"max_norm must lie in \(0.0, inf\)"):
        tg.clip_grad_norm([p], -1)
