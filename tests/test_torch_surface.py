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
