"""What a PyTorch user tries on the torch-named surface: arguments torch takes (proj_size, lengths as a tensor,
torch's own parameters as a state dict), and the mistakes torch users make (a GRU given (h, c), an empty batch,
a hand-made PackedSequence, param groups), each giving torch's numbers or an error naming the call and the shapes."""
import numpy as np
import pytest

import tinygrad_rnn as tg


# ---- layers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_proj_size_0_is_torchs_default_and_accepted(kind):
    layer = getattr(tg.nn, kind)(3, 4, proj_size=0, dtype=np.float64)
    out, _ = layer(np.zeros((2, 1, 3)))
    assert out.shape == (2, 1, 4)


@pytest.mark.parametrize("make, error, match", [
    (lambda: tg.nn.LSTM(3, 4, proj_size=2), NotImplementedError,
     r"LSTM: proj_size=2 \(torch's LSTM with projections, weight_hr_l<k>\) is not supported here; leave proj_size=0"),
    (lambda: tg.nn.GRU(3, 4, proj_size=2), ValueError, r"GRU: proj_size=2: a projection of h exists only for an LSTM"),
    (lambda: tg.nn.RNN(3, 4, proj_size=1), ValueError, r"RNN: proj_size=1: a projection of h exists only for an LSTM"),
    (lambda: tg.nn.LSTM(3, 4, proj_size=-1), ValueError, r"LSTM: proj_size must be at least 0, got -1"),
    (lambda: tg.nn.LSTM(3, 4, proj_size=1.5), TypeError, r"LSTM: proj_size must be an integer, got float 1.5"),
])
def test_proj_size_other_than_0_is_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("call, match", [
    (lambda h: tg.nn.GRU(3, 4)(np.zeros((5, 2, 3)), (h, h)),
     r"GRU: h_0 must be one Tensor of shape \(num_layers, B, H\) = \(1, 2, 4\), got a tuple of 2; only an LSTM's "
     r"state is a pair \(h, c\)"),
    (lambda h: tg.nn.RNN(3, 4)(np.zeros((5, 2, 3)), [h]), r"RNN: h_0 must be one Tensor .* got a list of 1"),
    (lambda h: tg.nn.GRU(3, 4)(np.zeros((5, 2, 3)), (h.data,)), r"GRU: h_0 must be one Tensor .* got a tuple of 1"),
    (lambda h: tg.nn.GRUCell(3, 4)(np.zeros((2, 3)), (h[0], h[0])),
     r"GRUCell: h must be one Tensor of shape \(B, H\) = \(2, 4\), got a tuple of 2; only an LSTM's"),
    (lambda h: tg.nn.LSTM(3, 4)(np.zeros((5, 2, 3)), ((h,), h)),
     r"LSTM: h_0 must be one Tensor of shape \(num_layers, B, H\) = \(1, 2, 4\), got a tuple of 1$"),
    (lambda h: tg.nn.LSTM(3, 4)([tg.Tensor(np.zeros((2, 3)))] * 5),
     r"LSTM: input must be a Tensor or a numpy array, got a list holding Tensors \(tg.stack joins them"),
])
def test_several_tensors_where_one_is_expected_are_named(call, match):
    """A GRU given (h, c) as an LSTM would be, or a list of per-step inputs: the layer and the argument, not
    numpy's complaint about an array of objects."""
    with pytest.raises(TypeError, match=match):
        call(tg.Tensor(np.zeros((1, 2, 4))))


def test_a_state_given_as_nested_lists_of_numbers_is_still_one_array():
    _, h = tg.nn.GRU(3, 4, dtype=np.float64)(np.zeros((5, 2, 3)), [[[0.0] * 4] * 2])
    assert h.shape == (1, 2, 4)
