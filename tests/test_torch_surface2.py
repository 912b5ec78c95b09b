"""The PyTorch surface a training loop types, against torch 2.13 in float64: shape methods, parameter groups and
learning-rate schedules, zero_grad, the clipping's returned norm, tg.nn.utils and the loss modules."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from test_rnn_parity import close


def pair(torch, *shape, seed=0):
    """The same float64 values as a tg leaf and a torch leaf, both requiring grad."""
    a = np.random.default_rng(seed).standard_normal(shape)
    return tg.Tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


# ---- shape methods -------------------------------------------------------------------------------------

SHAPE_CALLS = [
    ((2, 3), lambda x: x.transpose(0, 1)),             # numpy's rule would leave this one as it is
    ((2, 3), lambda x: x.transpose(1, 0)),
    ((2, 3), lambda x: x.transpose(-1, -2)),
    ((2, 3), lambda x: x.transpose(0, 0)),
    ((2, 3, 4), lambda x: x.transpose(1, 2)),
    ((2, 3, 4), lambda x: x.transpose(0, 1)),
    ((2, 3, 4), lambda x: x.transpose(-1, 0)),
    ((2, 3, 4), lambda x: x.permute(2, 0, 1)),
    ((2, 3, 4), lambda x: x.permute((1, -1, 0))),
    ((2, 3, 4), lambda x: x.permute([0, 2, 1])),
    ((2, 3), lambda x: x.unsqueeze(0)),
    ((2, 3), lambda x: x.unsqueeze(2)),
    ((2, 3), lambda x: x.unsqueeze(-1)),
    ((2, 3), lambda x: x.unsqueeze(-3)),
    ((2, 1, 3, 1), lambda x: x.squeeze()),
    ((2, 1, 3, 1), lambda x: x.squeeze(1)),
    ((2, 1, 3, 1), lambda x: x.squeeze(0)),             # not of length 1: stays
    ((2, 1, 3, 1), lambda x: x.squeeze(-1)),
    ((2, 1, 3, 1), lambda x: x.squeeze((1, 3))),
    ((2, 1, 3, 1), lambda x: x.squeeze((0, 1))),
    ((2, 3, 4), lambda x: x.view(6, 4)),
    ((2, 3, 4), lambda x: x.view(-1)),
    ((2, 3, 4), lambda x: x.view((4, -1))),
    ((3, 4), lambda x: x.T),
]


@pytest.mark.parametrize("shape, call", SHAPE_CALLS)
def test_shape_methods_match_torch_values_and_gradients(torch, shape, call):
    ours, theirs = pair(torch, *shape)
    out, tout = call(ours), call(theirs)
    assert out.shape == tuple(tout.shape)
    close(out.data, tout)
    weights = np.random.default_rng(1).standard_normal(out.shape)   # a gradient that tells every entry apart
    (out * weights).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    close(ours.grad, theirs.grad)


def test_transpose_of_two_dims_swaps_them_as_torch_not_as_numpy():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(x.transpose(0, 1).data, np.arange(6.0).reshape(2, 3).T)
    y = x.transpose(0, 1)
    assert y.node.op.name == "transpose" and y.node.params["axes"] == (1, 0)   # the op the diagrams draw
    assert x.transpose().node.params["axes"] is None and x.T.shape == (3, 2)


def test_size_is_the_shape_or_one_length(torch):
    ours, theirs = pair(torch, 2, 3, 4)
    assert ours.size() == tuple(theirs.size()) and isinstance(ours.size(), tuple)
    assert [ours.size(d) for d in (0, 1, 2, -1, -3)] == [theirs.size(d) for d in (0, 1, 2, -1, -3)]


@pytest.mark.parametrize("call, error, match", [
    (lambda x: x.transpose(1, 0, 2), TypeError, r"transpose: expected two dims to swap, transpose\(dim0, dim1\) "
                                                r"as in torch.* got \(1, 0, 2\) for shape \(2, 3, 4\); to reorder "
                                                r"all the axes use permute\(1, 0, 2\)"),
    (lambda x: x.transpose((2, 0, 1)), TypeError, r"use permute\(2, 0, 1\)"),
    (lambda x: x.transpose(0), TypeError, r"transpose: expected two dims to swap"),
    (lambda x: x.transpose(0, 3), tg.OpError, r"transpose\(h\(2, 3, 4\), dims=\(0, 3\)\): dim 3 is out of range: "
                                              r"expected an integer in \[-3, 2\]"),
    (lambda x: x.transpose(0, 1.0), TypeError, r"transpose: expected two dims"),
    (lambda x: x.permute(0, 1), tg.OpError, r"permute\(h\(2, 3, 4\), dims=\(0, 1\)\): expected 3 dims, one per axis"),
    (lambda x: x.permute(0, 1, 1), tg.OpError, r"permute\(.*\): a dim appears twice"),
    (lambda x: x.permute(0, 1, -4), tg.OpError, r"dim -4 is out of range"),
    (lambda x: x.unsqueeze(4), tg.OpError, r"unsqueeze\(h\(2, 3, 4\), dim=4\): .* \[-4, 3\]"),
    (lambda x: x.squeeze(3), tg.OpError, r"squeeze\(h\(2, 3, 4\), dim=3\)"),
    (lambda x: x.squeeze("1"), TypeError, r"squeeze: dim must be an integer or a tuple of integers"),
    (lambda x: x.size(3), tg.OpError, r"size\(h\(2, 3, 4\), dim=3\)"),
    (lambda x: x.view(5, 5), tg.OpError, r"reshape\(h\(2, 3, 4\)"),
])
def test_bad_dims_are_named(call, error, match):
    x = tg.Tensor(np.zeros((2, 3, 4)), requires_grad=True, name="h")
    with pytest.raises(error, match=match):
        call(x)


def test_a_0d_tensor_formats_and_converts_as_torch(torch):
    loss, tloss = (tg.Tensor(np.float64(2.0) / 3), torch.tensor(2.0 / 3))
    assert f"{loss:.3f}" == f"{tloss:.3f}" == "0.667" and float(loss) == float(tloss)
    with pytest.raises(TypeError):
        f"{tg.Tensor(np.zeros(2)):.3f}"                 # as torch: only a 0-d tensor formats as a number
    with pytest.raises(ValueError, match="only a tensor with one element"):
        float(tg.Tensor(np.zeros(2)))
