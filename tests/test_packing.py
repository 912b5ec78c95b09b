"""Variable-length batches: tg.pack_padded_sequence / pad_packed_sequence and the layers' PackedSequence input,
against torch.nn.utils.rnn's packed run in float64 (outputs, final states, every gradient)."""
import itertools

import numpy as np
import pytest

import tinygrad_rnn as tg
from test_rnn_parity import check_grads, close, leaf

T, B, I, H = 5, 4, 3, 4
KINDS = ["rnn-tanh", "lstm", "gru"]
CASES = list(itertools.product(KINDS, [1, 2], [False, True], [True, False], [False, True], [False, True]))


def make(kind, torch, **kw):
    base, _, nonlin = kind.partition("-")
    extra = {"nonlinearity": nonlin} if nonlin else {}
    ours = getattr(tg.nn, base.upper())(I, H, dtype=np.float64, **extra, **kw)
    theirs = getattr(torch.nn, base.upper())(I, H, **extra, **kw)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("kind,num_layers,bidirectional,enforce_sorted,batch_first,with_state", CASES)
def test_packed_run_matches_torch(torch, kind, num_layers, bidirectional, enforce_sorted, batch_first, with_state):
    from torch.nn.utils import rnn as trnn
    rng = np.random.default_rng(CASES.index((kind, num_layers, bidirectional, enforce_sorted, batch_first, with_state)))
    ours, theirs = make(kind, torch, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    x, tx = leaf(torch, rng.standard_normal((B, T, I) if batch_first else (T, B, I)))
    pairs, state, tstate = [(x, tx)], None, None
    if with_state:
        count = num_layers * (2 if bidirectional else 1)
        h0, th0 = leaf(torch, rng.standard_normal((count, B, H)) * 0.5)
        state, tstate, pairs = h0, th0, pairs + [(h0, th0)]
        if kind == "lstm":
            c0, tc0 = leaf(torch, rng.standard_normal((count, B, H)) * 0.5)
            state, tstate, pairs = (h0, c0), (th0, tc0), pairs + [(c0, tc0)]
    packed = tg.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    tpacked = trnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first,
                                        enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(packed.batch_sizes, tpacked.batch_sizes.numpy())
    close(packed.data.data, tpacked.data)
    out, final = ours(packed, state)
    tout, tfinal = theirs(tpacked, tstate)
    assert isinstance(out, tg.PackedSequence)
    close(out.data.data, tout.data)                                   # the same packed layout as torch's
    padded, out_lengths = tg.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    tpadded, tlengths = trnn.pad_packed_sequence(tout, batch_first=batch_first, total_length=T)
    close(padded.data, tpadded)
    np.testing.assert_array_equal(out_lengths, tlengths.numpy())
    finals = final if kind == "lstm" else (final,)
    tfinals = tfinal if kind == "lstm" else (tfinal,)
    for f, tf in zip(finals, tfinals):
        close(f.data, tf)
    weights = [rng.standard_normal(padded.shape)] + [rng.standard_normal(f.shape) for f in finals]
    sum(((t * w).sum() for t, w in zip([padded, *finals], weights)), tg.Tensor(np.float64(0))).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip([tpadded, *tfinals], weights)).backward()
    check_grads(ours, theirs, pairs)


def test_padded_steps_are_not_computed():
    lstm = tg.nn.LSTM(I, H, dtype=np.float64)
    x = tg.Tensor(np.ones((T, B, I)), requires_grad=True)
    out, (h_n, _) = lstm(tg.pack_padded_sequence(x, [5, 3, 3, 1]))
    loss = out.data.sum() + h_n.sum()
    nodes = tg.graph(loss)
    rows = {n.scope_name: n.inputs[0].shape[0] for n in nodes if n.op.name == "linear" and "/t=" in n.scope_name}
    assert rows == {f"lstm/layer0/t={t}": n for t, n in zip(range(1, 6), [4, 3, 3, 1, 1])}   # real steps only
    per_step = {t: sum(1 for n in nodes if n.scope_name.startswith(f"lstm/layer0/t={t}")) for t in range(1, 6)}
    assert len(set(per_step.values())) <= 2 and per_step[5] <= per_step[1] + 1   # the same work per step
    loss.backward()
    assert np.all(x.grad[3:, 1:] == 0) and np.all(x.grad[1:, 3] == 0)   # no gradient reaches the padding
    assert np.all(x.grad[:3, :3] != 0)


def test_packing_errors():
    x = tg.Tensor(np.zeros((T, B, I)))
    with pytest.raises(ValueError, match=r"lengths must be in decreasing order with enforce_sorted=True"):
        tg.pack_padded_sequence(x, [3, 5, 1, 3])
    with pytest.raises(ValueError, match=r"every length must lie in \[1, 5\]"):
        tg.pack_padded_sequence(x, [6, 3, 3, 1])
    with pytest.raises(ValueError, match=r"lengths must be 4 integers"):
        tg.pack_padded_sequence(x, [5, 3])
    with pytest.raises(TypeError, match=r"pad_packed_sequence: expected a PackedSequence"):
        tg.pad_packed_sequence(x)
    packed = tg.pack_padded_sequence(x, [5, 3, 3, 1])
    with pytest.raises(ValueError, match=r"total_length=3 is less than the longest sequence"):
        tg.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(ValueError, match=r"GRU: a PackedSequence's data must have shape \(sum of lengths, input_size=7\)"):
        tg.nn.GRU(7, 2)(packed)
