"""What a PyTorch user tries on the torch-named surface: arguments torch takes (proj_size, lengths as a tensor,
torch's own parameters as a state dict), and the mistakes torch users make (a GRU given (h, c), an empty batch,
a hand-made PackedSequence, param groups), each giving torch's numbers or an error naming the call and the shapes."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from test_rnn_parity import close


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


def test_a_torch_tensor_given_to_a_layer_is_named_as_torchs(torch):
    """torch.Tensor and tg.Tensor share a name: the message says which one it got."""
    with pytest.raises(TypeError, match=r"GRU: input must be a Tensor or a numpy array, got torch.Tensor$"):
        tg.nn.GRU(3, 4)(torch.zeros(5, 2, 3))
    with pytest.raises(TypeError, match=r"GRU: h_0 must be a Tensor or a numpy array, got torch.Tensor$"):
        tg.nn.GRU(3, 4)(np.zeros((5, 2, 3)), torch.zeros(1, 2, 4))


def test_a_state_given_as_nested_lists_of_numbers_is_still_one_array():
    _, h = tg.nn.GRU(3, 4, dtype=np.float64)(np.zeros((5, 2, 3)), [[[0.0] * 4] * 2])
    assert h.shape == (1, 2, 4)


# ---- variable-length batches ----------------------------------------------------------------------

@pytest.mark.parametrize("shape, batch_first", [((5, 0, 2), False), ((0, 3, 2), False), ((0, 5, 2), True),
                                                ((3, 0, 2), True)])
def test_packing_an_empty_batch_is_named(shape, batch_first):
    steps, batch = (shape[1], shape[0]) if batch_first else shape[:2]
    with pytest.raises(ValueError, match=rf"pack_padded_sequence: cannot pack an empty batch: input of shape "
                                         rf"\({shape[0]}, {shape[1]}, 2\) holds {batch} sequences of {steps} steps"):
        tg.pack_padded_sequence(tg.Tensor(np.zeros(shape)), [1] * batch, batch_first=batch_first)


def test_packing_a_numpy_batch_matches_torch_and_other_inputs_are_named(torch):
    """A layer takes a numpy batch, so pack_padded_sequence does too; a torch.Tensor or a 1-D input is named."""
    from torch.nn.utils import rnn as trnn
    x = np.random.default_rng(3).standard_normal((4, 3, 2))
    packed = tg.pack_padded_sequence(x, [4, 2, 1])
    close(packed.data.data, trnn.pack_padded_sequence(torch.tensor(x), [4, 2, 1]).data)
    with pytest.raises(TypeError, match=r"pack_padded_sequence: input must be a Tensor or a numpy array, got "
                                        r"torch.Tensor"):
        tg.pack_padded_sequence(torch.tensor(x), [4, 2, 1])
    with pytest.raises(ValueError, match=r"pack_padded_sequence: input must be a Tensor \(T, B, \*\) or \(B, T, \*\) "
                                         r"with batch_first, got shape \(4,\)"):
        tg.pack_padded_sequence(np.zeros(4), [4])


@pytest.mark.parametrize("as_lengths", [lambda n: tg.Tensor(np.array(n)), lambda n: [float(v) for v in n],
                                        lambda n: np.array(n, dtype=np.uint8)])
def test_lengths_as_a_tg_tensor_or_whole_floats_pack_as_torch(torch, as_lengths):
    """A tg.Tensor always holds floats, so lengths given as one are whole floats; torch takes float lengths too."""
    from torch.nn.utils import rnn as trnn
    x = np.random.default_rng(0).standard_normal((5, 3, 2))
    packed = tg.pack_padded_sequence(tg.Tensor(x), as_lengths([3, 5, 1]), enforce_sorted=False)
    theirs = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor([3, 5, 1]), enforce_sorted=False)
    np.testing.assert_array_equal(packed.batch_sizes, theirs.batch_sizes.numpy())
    close(packed.data.data, theirs.data)
    padded, lengths = tg.pad_packed_sequence(packed)
    np.testing.assert_array_equal(lengths, [3, 5, 1])
    close(padded.data, trnn.pad_packed_sequence(theirs)[0])


@pytest.mark.parametrize("lengths", [[2.5, 2.0, 1.0], [np.nan, 2.0, 1.0], tg.Tensor(np.array([2.0, 1.5, 1.0]))])
def test_lengths_that_are_not_whole_numbers_are_refused(lengths):
    with pytest.raises(ValueError, match=r"pack_padded_sequence: lengths must be 3 integers \(one per sequence\)"):
        tg.pack_padded_sequence(tg.Tensor(np.zeros((3, 3, 2))), lengths)


@pytest.mark.parametrize("rows, sizes", [(6, [2, 4]), (7, [4, 2]), (5, [4, 2]), (4, [4, 0]), (0, []),
                                         (6, [4.0, 2.0])])
def test_a_hand_made_packed_sequence_that_does_not_add_up_is_named(rows, sizes):
    """batch_sizes that grow, or do not sum to the data's rows, would make a layer compute silently wrong steps."""
    packed = tg.PackedSequence(tg.Tensor(np.zeros((rows, 2))), np.array(sizes))
    with pytest.raises(ValueError, match=rf"GRU: a PackedSequence's batch_sizes must be positive, non-increasing "
                                         rf"integers that sum to its data's {rows} rows"):
        tg.nn.GRU(2, 4)(packed)


# ---- state dicts ----------------------------------------------------------------------------------

def test_torch_parameters_that_record_gradients_load_as_a_state_dict(torch):
    """dict(torch_model.named_parameters()) is a state dict in torch; its tensors require grad, so numpy cannot
    read them without a detach."""
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    ours = tg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    ours.load_state_dict(dict(theirs.named_parameters()))
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    close(ours(x)[0].data, theirs(torch.tensor(x))[0])


def test_a_value_numpy_cannot_read_is_named_and_nothing_is_loaded(torch):
    theirs = torch.nn.GRU(3, 4)
    ours = tg.nn.GRU(3, 4, dtype=np.float64)
    before = ours.state_dict()
    state = {**theirs.state_dict(), "weight_hh_l0": theirs.weight_hh_l0.detach().bfloat16()}
    with pytest.raises(ValueError, match=r"nothing was loaded because of\n  weight_hh_l0: cannot be read as an array "
                                         r"of numbers: TypeError: .*BFloat16"):
        ours.load_state_dict(state)
    for key, array in ours.state_dict().items():
        np.testing.assert_array_equal(array, before[key])



class TiedLM(tg.nn.Module):
    """A character model whose read-out reuses the embedding (weight tying): one Parameter, two names."""

    def __init__(self):
        self.embed = tg.nn.Embedding(5, 4, dtype=np.float64)
        self.rnn = tg.nn.GRU(4, 4, dtype=np.float64)
        self.out = tg.nn.Linear(4, 5, dtype=np.float64)
        self.out.weight = self.embed.weight

    def forward(self, idx):
        return self.out(self.rnn(self.embed(idx))[0])


def torch_tied_lm(torch):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.rnn, self.out = torch.nn.Embedding(5, 4), torch.nn.GRU(4, 4), torch.nn.Linear(4, 5)
            self.out.weight = self.embed.weight

        def forward(self, idx):
            return self.out(self.rnn(self.embed(idx))[0])
    return Net()


def test_a_tied_weight_is_in_the_state_dict_under_each_name_and_loads_both_ways(torch):
    """torch's state_dict lists a shared parameter under every name it has (named_parameters once): a tied
    model's state dict loads strictly from torch into ours and from ours into torch."""
    ours, theirs = TiedLM(), torch_tied_lm(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ([n for n, _ in ours.named_parameters(remove_duplicate=False)]
            == [n for n, _ in theirs.named_parameters(remove_duplicate=False)])
    ours.load_state_dict(theirs.state_dict())
    idx = np.array([[0, 1], [4, 2], [3, 3]])
    close(ours(idx).data, theirs(torch.tensor(idx)))
    theirs = torch_tied_lm(torch)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in TiedLM().state_dict().items()})
    assert theirs.out.weight is theirs.embed.weight


def test_a_tied_model_saves_and_loads_and_takes_a_state_dict_that_names_the_weight_once(tmp_path):
    source, target = TiedLM(), TiedLM()
    source.save(tmp_path / "tied.npz")
    target.load(tmp_path / "tied.npz")
    for key, array in target.state_dict().items():
        np.testing.assert_array_equal(array, source.state_dict()[key])
    once = {k: v for k, v in TiedLM().state_dict().items() if k != "out.weight"}
    assert target.load_state_dict(once) == ([], [])
    np.testing.assert_array_equal(target.out.weight.data, once["embed.weight"])


# ---- optimizers and losses ------------------------------------------------------------------------

@pytest.mark.parametrize("make", [tg.optim.SGD, tg.optim.Adam, tg.optim.AdamW])
def test_an_optimizer_given_one_tensor_or_a_mix_of_groups_and_tensors_says_so(make):
    w, v = tg.Parameter(np.zeros((3, 2))), tg.Parameter(np.zeros(2))
    with pytest.raises(TypeError, match=rf"{make.__name__}: params must be an iterable of Tensors such as "
                                        rf"model.parameters\(\) or \[w\], got a single Tensor of shape \(3, 2\)"):
        make(w, lr=0.1)
    with pytest.raises(TypeError, match=rf"{make.__name__}: params must be all Tensors or all parameter groups"):
        make([{"params": [w], "lr": 0.1}, v], lr=0.1)


def test_cross_entropy_label_smoothing_must_be_a_number():
    logits = tg.Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"cross_entropy: label_smoothing must be a number, got str '0.1'"):
        tg.cross_entropy(logits, [0, 1], label_smoothing="0.1")


@pytest.mark.parametrize("name, options", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
                                           ("AdamW", {"lr": 0.01, "amsgrad": True})])
def test_frozen_parameters_are_kept_by_optimizers_and_clipping_as_torch(torch, name, options):
    """torch's fine-tuning idiom: requires_grad=False on some weights, then the optimizer and the clipping over
    model.parameters(); the frozen ones have no .grad, so they are skipped and keep their values."""
    ours = tg.nn.GRU(3, 4, num_layers=2, dtype=np.float64)
    theirs = torch.nn.GRU(3, 4, num_layers=2)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    frozen = {"weight_ih_l0", "bias_hh_l1"}
    for key in frozen:
        getattr(ours, key).requires_grad = False
        getattr(theirs, key).requires_grad_(False)
    opt = getattr(tg.optim, name)(ours.parameters(), **options)
    topt = getattr(torch.optim, name)(theirs.parameters(), **options)
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        ours(x)[0].sum().backward()
        theirs(torch.tensor(x))[0].sum().backward()
        norm = tg.clip_grad_norm(ours.parameters(), 0.5)
        assert np.isclose(norm, float(torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)), rtol=1e-12)
        tg.optim.clip_grad_value(ours.parameters(), 0.05)
        torch.nn.utils.clip_grad_value_(theirs.parameters(), 0.05)
        opt.step()
        topt.step()
    for key, array in ours.state_dict().items():
        close(array, getattr(theirs, key))
    assert all(getattr(ours, k).grad is None for k in frozen)
