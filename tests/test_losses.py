"""cross_entropy's and mse_loss's torch options (ignore_index, reduction, label_smoothing, (N, C, d...) logits):
values and gradients against torch.nn.functional in float64, and gradcheck (the gradients come from the tape)."""
import itertools

import numpy as np
import pytest

import tinygrad_rnn as tg

SHAPES = {"rows": ((5, 4), (5,)), "sequence": ((3, 4, 6), (3, 6)), "two-extra-axes": ((2, 3, 2, 3), (2, 2, 3)),
          "unbatched": ((4,), ())}
CASES = list(itertools.product(SHAPES, ["mean", "sum", "none"], [None, -100, 1], [0.0, 0.3]))


def problem(shape, target_shape, ignore, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape) * 2
    classes = shape[1] if len(shape) > 1 else shape[0]
    targets = rng.integers(0, classes, size=target_shape)
    if ignore is not None and targets.size > 1:
        targets.reshape(-1)[::3] = ignore                      # every third position ignored
    return logits, targets


def kwargs(reduction, ignore, smoothing):
    return dict(reduction=reduction, label_smoothing=smoothing, **({} if ignore is None else {"ignore_index": ignore}))


@pytest.mark.parametrize("shape_name,reduction,ignore,smoothing", CASES)
def test_cross_entropy_matches_torch(torch, shape_name, reduction, ignore, smoothing):
    logits, targets = problem(*SHAPES[shape_name], ignore, CASES.index((shape_name, reduction, ignore, smoothing)))
    options = kwargs(reduction, ignore, smoothing)
    x, tx = tg.Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    out = tg.cross_entropy(x, targets, **options)
    tout = torch.nn.functional.cross_entropy(tx, torch.tensor(targets), **options)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    weights = np.random.default_rng(7).standard_normal(out.shape)     # every per-position loss matters
    (out * tg.Tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape_name,reduction,ignore,smoothing",
                         [c for c in CASES if c[0] in ("rows", "sequence") and c[2] != -100])
def test_cross_entropy_gradcheck(shape_name, reduction, ignore, smoothing):
    logits, targets = problem(*SHAPES[shape_name], ignore, 3)
    options = kwargs(reduction, ignore, smoothing)
    assert tg.gradcheck(lambda x: tg.cross_entropy(x, targets, **options), [tg.Tensor(logits, requires_grad=True)])


def test_cross_entropy_all_ignored_mean_is_nan_as_torch(torch):
    logits = np.zeros((2, 3))
    x, tx = tg.Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    ours, theirs = tg.cross_entropy(x, [-100, -100]), torch.nn.functional.cross_entropy(tx, torch.tensor([-100, -100]))
    assert np.isnan(ours.item()) and torch.isnan(theirs)
    ours.backward()
    theirs.backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())          # zeros, both


def test_cross_entropy_plain_case_keeps_its_small_graph():
    loss = tg.cross_entropy(tg.Tensor(np.zeros((3, 4)), requires_grad=True), [0, 1, 2])
    assert [n.op.name for n in tg.graph(loss)] == ["log_softmax", "getitem", "mean", "neg"]


def test_cross_entropy_option_errors():
    x = tg.Tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"integer class indices of shape \(2, 4\) for logits of shape \(2, 3, 4\)"):
        tg.cross_entropy(x, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        tg.cross_entropy(x, np.zeros((2, 4), int), reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0.0, 1.0\], got 1.5"):
        tg.cross_entropy(x, np.zeros((2, 4), int), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\) or equal ignore_index"):
        tg.cross_entropy(x, np.full((2, 4), -100), ignore_index=0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_reduction_matches_torch(torch, reduction):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x, tx = tg.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = tg.mse_loss(x, b, reduction=reduction)
    tout = torch.nn.functional.mse_loss(tx, torch.tensor(b), reduction=reduction)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-13)
    weights = rng.standard_normal(out.shape)
    (out * tg.Tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-13)
    assert tg.gradcheck(lambda t: tg.mse_loss(t, b, reduction=reduction), [tg.Tensor(a, requires_grad=True)])
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be"):
        tg.mse_loss(x, b, reduction="mea")
