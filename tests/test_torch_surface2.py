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
    ((), lambda x: x.transpose(0, -1)),                 # a 0-d tensor's one dim is 0 or -1, as in torch
    ((), lambda x: x.squeeze(0)),
    ((), lambda x: x.unsqueeze(-1)),
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
    (lambda x: x.permute(0, 1), tg.OpError, r"permute\(h\(2, 3, 4\), dims=\(0, 1\)\): expected one dim per axis, 3"),
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


# ---- optimizers: parameter groups, schedules, zero_grad ----------------------------------------------------

def problem(torch):
    """Two parameters of a small cubic loss, as tg and torch leaves, and a function that fills both .grads."""
    rng = np.random.default_rng(3)
    start, coef = [rng.standard_normal((3, 2)), rng.standard_normal(4)], [rng.standard_normal((3, 2)),
                                                                          rng.standard_normal(4)]
    ours = [tg.Tensor(a.copy(), requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]

    def backward():
        sum(((p * p * p) * c).sum() + (p * c).sum() for p, c in zip(ours, coef)).backward()
        sum(((p ** 3) * torch.tensor(c)).sum() + (p * torch.tensor(c)).sum() for p, c in zip(theirs, coef)).backward()
    return ours, theirs, backward


OPTIMIZERS = [("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
              ("SGD", {"lr": 0.1, "momentum": 0.5, "nesterov": True}),
              ("Adam", {"lr": 0.05, "amsgrad": True}), ("AdamW", {"lr": 0.05, "weight_decay": 0.1})]


@pytest.mark.parametrize("name, options", OPTIMIZERS, ids=str)
def test_param_groups_hold_the_params_and_every_hyperparameter_as_torch(torch, name, options):
    ours, theirs, _ = problem(torch)
    opt, topt = getattr(tg.optim, name)(ours, **options), getattr(torch.optim, name)(theirs, **options)
    assert len(opt.param_groups) == len(topt.param_groups) == 1
    group, tgroup = opt.param_groups[0], topt.param_groups[0]
    assert group["params"] == ours and set(group) <= set(tgroup)
    assert {k: v for k, v in group.items() if k != "params"} == {k: tgroup[k] for k in group if k != "params"}
    assert set(group) - {"params"} == set(opt.defaults)


@pytest.mark.parametrize("name, options", OPTIMIZERS, ids=str)
def test_a_learning_rate_schedule_through_param_groups_matches_torchs_scheduler(torch, name, options):
    """torch's StepLR halves lr every 2 steps by writing group['lr']; we write the same into our group."""
    ours, theirs, backward = problem(torch)
    opt, topt = getattr(tg.optim, name)(ours, **options), getattr(torch.optim, name)(theirs, **options)
    schedule = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
    for step in range(7):
        opt.zero_grad()
        topt.zero_grad()
        backward()
        opt.step()
        topt.step()
        schedule.step()
        for group in opt.param_groups:
            group["lr"] = options["lr"] * 0.5 ** ((step + 1) // 2)
        assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
        for p, tp in zip(ours, theirs):
            close(p.data, tp)


def test_a_learning_rate_set_between_steps_changes_the_next_step():
    p = tg.Tensor(np.array([1.0]), requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()
    opt.param_groups[0]["lr"] = 0.0                      # lr 0 (a warm-up's first value) is allowed, as in torch
    opt.step()
    np.testing.assert_array_equal(p.data, [0.9])
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"SGD: param_groups\[0\]\['lr'\] must lie in \[0.0, inf\), got -1.0"):
        opt.step()


@pytest.mark.parametrize("name, options", OPTIMIZERS, ids=str)
def test_two_parameter_groups_with_their_own_hyperparameters_match_torch(torch, name, options):
    ours, theirs, backward = problem(torch)
    own = {"lr": 0.01, "weight_decay": 0.2}
    opt = getattr(tg.optim, name)([{"params": [ours[0]]}, {"params": ours[1], **own}], **options)
    topt = getattr(torch.optim, name)([{"params": [theirs[0]]}, {"params": theirs[1], **own}], **options)
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[0]["lr"] == options["lr"]
    for _ in range(5):
        opt.zero_grad()
        topt.zero_grad()
        backward()
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            close(p.data, tp)


def test_bad_parameter_groups_are_named():
    w, v = tg.Parameter(np.zeros(2)), tg.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=r"SGD: a parameter appears twice in params"):
        tg.optim.SGD([{"params": [w]}, {"params": [w, v]}], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam: parameter group 1 has no 'params'"):
        tg.optim.Adam([{"params": [w]}, {"lr": 0.1}])
    with pytest.raises(ValueError, match=r"Adam: param_groups\[1\]\['eps'\] must lie in"):
        tg.optim.Adam([{"params": [w]}, {"params": [v], "eps": -1.0}])
    with pytest.raises(TypeError, match=r"SGD: parameter group 0: parameter 0 must be a leaf Tensor"):
        tg.optim.SGD([{"params": [np.zeros(2)]}], lr=0.1)


@pytest.mark.parametrize("name, options", OPTIMIZERS, ids=str)
def test_zero_grad_set_to_none_false_zeros_in_place_and_the_steps_match_torch(torch, name, options):
    ours, theirs, backward = problem(torch)
    opt, topt = getattr(tg.optim, name)(ours, **options), getattr(torch.optim, name)(theirs, **options)
    backward()
    for _ in range(4):
        arrays = [p.grad for p in ours]
        opt.zero_grad(set_to_none=False)
        topt.zero_grad(set_to_none=False)
        assert all(p.grad is a and not a.any() for p, a in zip(ours, arrays))       # the same arrays, zeroed
        backward()
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            close(p.data, tp)
    opt.zero_grad()
    topt.zero_grad()
    assert all(p.grad is None for p in ours) and all(tp.grad is None for tp in theirs)


def test_module_zero_grad_takes_set_to_none_too():
    layer = tg.nn.Linear(2, 3)
    layer(np.ones((1, 2))).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is grad and not grad.any()
    layer.zero_grad()
    assert layer.weight.grad is None


# ---- the clipping's returned norm --------------------------------------------------------------------------

def test_clip_grad_norm_returns_a_norm_read_as_torchs(torch):
    ours, theirs, backward = problem(torch)
    backward()
    norm = tg.nn.utils.clip_grad_norm_(ours, 1.0)
    tnorm = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert norm.item() == pytest.approx(tnorm.item(), rel=1e-12) and float(norm) == norm.item()
    assert f"{norm:.3f}" == f"{tnorm:.3f}" and f"{norm:.6e}" == f"{tnorm:.6e}"
    assert norm.item() > 1.0 and norm == norm.item()     # a number: compared and printed as one
    for p, tp in zip(ours, theirs):
        close(p.grad, tp.grad)


# ---- tg.nn.utils, tg.nn.utils.rnn ----------------------------------------------------------------------------

def test_nn_utils_holds_torchs_names_and_imports_as_torchs():
    from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_
    from tinygrad_rnn.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
    assert clip_grad_norm_ is tg.clip_grad_norm and clip_grad_value_ is tg.optim.clip_grad_value
    assert (PackedSequence, pack_padded_sequence, pad_packed_sequence) == (
        tg.PackedSequence, tg.pack_padded_sequence, tg.pad_packed_sequence)
    assert tg.nn.utils.rnn.pad_sequence is tg.pad_sequence and tg.nn.utils.rnn.pack_sequence is tg.pack_sequence


def test_clip_grad_value_through_nn_utils_matches_torch(torch):
    ours, theirs, backward = problem(torch)
    backward()
    assert tg.nn.utils.clip_grad_value_(ours, 0.5) is None and torch.nn.utils.clip_grad_value_(theirs, 0.5) is None
    for p, tp in zip(ours, theirs):
        close(p.grad, tp.grad)


def sequences(torch, lengths, features=(2,)):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((n, *features)) for n in lengths]
    return ([tg.Tensor(a.copy(), requires_grad=True) for a in arrays],
            [torch.tensor(a.copy(), requires_grad=True) for a in arrays])


@pytest.mark.parametrize("lengths", [(3, 1, 2), (2, 2), (1,), (4, 0, 2)], ids=str)
@pytest.mark.parametrize("options", [{}, {"batch_first": True}, {"padding_value": -1.5},
                                     {"batch_first": True, "padding_side": "left", "padding_value": 7.0}], ids=str)
def test_pad_sequence_matches_torch_values_and_gradients(torch, lengths, options):
    ours, theirs = sequences(torch, lengths)
    out = tg.nn.utils.rnn.pad_sequence(ours, **options)
    tout = torch.nn.utils.rnn.pad_sequence(theirs, **options)
    assert out.shape == tuple(tout.shape)
    close(out.data, tout)
    weights = np.random.default_rng(5).standard_normal(out.shape)
    (out * weights).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    for s, ts in zip(ours, theirs):
        close(s.grad, ts.grad)


@pytest.mark.parametrize("lengths, enforce_sorted", [((3, 2, 2), True), ((1, 3, 2), False), ((2,), True)], ids=str)
def test_pack_sequence_matches_torch_and_an_lstm_runs_on_it(torch, lengths, enforce_sorted):
    ours, theirs = sequences(torch, lengths, features=(3,))
    packed = tg.nn.utils.rnn.pack_sequence(ours, enforce_sorted=enforce_sorted)
    tpacked = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=enforce_sorted)
    close(packed.data.data, tpacked.data)
    np.testing.assert_array_equal(packed.batch_sizes, tpacked.batch_sizes.numpy())
    for mine, their in [(packed.sorted_indices, tpacked.sorted_indices),
                        (packed.unsorted_indices, tpacked.unsorted_indices)]:
        assert (mine is None) == (their is None) and (mine is None or np.array_equal(mine, their.numpy()))
    lstm, tlstm = tg.nn.LSTM(3, 4, dtype=np.float64), torch.nn.LSTM(3, 4)
    tlstm.load_state_dict({k: torch.tensor(v) for k, v in lstm.state_dict().items()})
    out, lens = tg.nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True)
    tout, tlens = torch.nn.utils.rnn.pad_packed_sequence(tlstm(tpacked)[0], batch_first=True)
    close(out.data, tout)
    np.testing.assert_array_equal(lens, tlens.numpy())
    out.sum().backward()
    tout.sum().backward()
    for s, ts in zip(ours, theirs):
        close(s.grad, ts.grad)


@pytest.mark.parametrize("call, error, match", [
    (lambda: tg.pad_sequence([]), TypeError, r"pad_sequence: sequences must be a non-empty list of Tensors"),
    (lambda: tg.pad_sequence(np.zeros(3)), ValueError, r"pad_sequence: sequences\[0\] is a number \(0-d\); each "
     r"sequence needs a time axis \(L_i, \*\). One sequence goes in a list: pad_sequence\(\[x\]\)"),
    (lambda: tg.pad_sequence([np.zeros((2, 3)), np.zeros((1, 4))]), ValueError,
     r"pad_sequence: every sequence must have shape \(L_i, 3\) like sequences\[0\] \(2, 3\), got "
     r"sequences\[1\] of shape \(1, 4\)"),
    (lambda: tg.pad_sequence([np.zeros(2)], padding_side="top"), ValueError, r"padding_side must be 'right' or"),
    (lambda: tg.pad_sequence([np.zeros(2)], padding_value="0"), TypeError, r"padding_value must be a number"),
    (lambda: tg.pack_sequence([np.zeros(1), np.zeros(2)]), ValueError,
     r"lengths must be in decreasing order with enforce_sorted=True, got \[1, 2\]; pass enforce_sorted=False"),
    (lambda: tg.pack_sequence(np.zeros(2)), ValueError, r"pack_sequence: sequences\[0\] is a number"),
    (lambda: tg.pad_sequence([np.zeros(2), np.zeros((2, 1))]), ValueError, r"shape \(L_i,\) like sequences\[0\] \(2,\)"),
    (lambda: tg.pad_packed_sequence(tg.PackedSequence(tg.Tensor(np.zeros((5, 2))), np.array([2, 4]))), ValueError,
     r"pad_packed_sequence: a PackedSequence's batch_sizes must be positive, non-increasing integers that sum to "
     r"its data's 5 rows"),
    (lambda: tg.pad_sequence(tg.Tensor(1.0)), TypeError, r"pad_sequence: sequences must be a non-empty list"),
])
def test_bad_sequences_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_batch_given_to_pad_sequence_is_its_rows_as_in_torch(torch):
    batch = np.arange(12.0).reshape(2, 3, 2)
    close(tg.pad_sequence(tg.Tensor(batch)).data, torch.nn.utils.rnn.pad_sequence(torch.tensor(batch)))


# ---- loss modules and F ----------------------------------------------------------------------------------------

CE_OPTIONS = [{}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 1}, {"label_smoothing": 0.2},
              {"ignore_index": 0, "reduction": "none", "label_smoothing": 0.1}]


@pytest.mark.parametrize("options", CE_OPTIONS, ids=str)
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 6)], ids=str)
def test_cross_entropy_loss_module_and_F_match_torch(torch, options, shape):
    import tinygrad_rnn.nn.functional as F
    targets = np.random.default_rng(6).integers(0, 4, size=shape[:1] + shape[2:])
    for make in (lambda x, t: tg.nn.CrossEntropyLoss(**options)(x, t), lambda x, t: F.cross_entropy(x, t, **options)):
        ours, theirs = pair(torch, *shape)
        loss, tloss = make(ours, targets), torch.nn.CrossEntropyLoss(**options)(theirs, torch.tensor(targets))
        close(loss.data, tloss)
        weights = np.random.default_rng(7).standard_normal(loss.shape)
        (loss * weights).sum().backward()
        (tloss * torch.tensor(weights)).sum().backward()
        close(ours.grad, theirs.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_module_and_F_match_torch(torch, reduction):
    target = np.random.default_rng(8).standard_normal((3, 2))
    for make in (lambda x: tg.nn.MSELoss(reduction=reduction)(x, target),
                 lambda x: tg.nn.functional.mse_loss(x, target, reduction=reduction)):
        ours, theirs = pair(torch, 3, 2)
        loss = make(ours)
        tloss = torch.nn.MSELoss(reduction=reduction)(theirs, torch.tensor(target))
        close(loss.data, tloss)
        (loss * 1.5).sum().backward()
        (tloss * 1.5).sum().backward()
        close(ours.grad, theirs.grad)


@pytest.mark.parametrize("name, call", [
    ("softmax", lambda F, x: F.softmax(x, dim=1)), ("log_softmax", lambda F, x: F.log_softmax(x, -1)),
    ("relu", lambda F, x: F.relu(x)), ("sigmoid", lambda F, x: F.sigmoid(x)), ("tanh", lambda F, x: F.tanh(x)),
    ("linear", lambda F, x: F.linear(x, x[:2] * 0.5, x[0, :2] if not isinstance(x, np.ndarray) else None)),
])
def test_functional_names_match_torch(torch, name, call):
    import tinygrad_rnn.nn.functional as F
    ours, theirs = pair(torch, 3, 2)
    out, tout = call(F, ours), call(torch.nn.functional, theirs)
    close(out.data, tout)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    close(ours.grad, theirs.grad)


def test_loss_modules_refuse_what_they_do_not_support():
    with pytest.raises(NotImplementedError, match=r"CrossEntropyLoss: per-class weights are not supported"):
        tg.nn.CrossEntropyLoss(weight=np.ones(3))
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        tg.nn.MSELoss(reduction="avg")
    with pytest.raises(TypeError):
        tg.nn.CrossEntropyLoss(None, None, 1)            # torch's deprecated size_average/reduce: keywords here
    with pytest.raises(NotImplementedError, match=r"cross_entropy: per-class weights"):
        tg.nn.functional.cross_entropy(tg.Tensor(np.zeros((2, 3))), [0, 1], np.ones(3))
    assert tg.nn.CrossEntropyLoss().parameters() == [] and "CrossEntropyLoss" in tg.nn.__all__


def test_the_stepper_writes_a_swap_of_a_matrix_as_T_and_a_swap_of_a_dim_with_itself_as_transpose():
    from tinygrad_rnn.teach.stepper import Stepper
    w = tg.Tensor(np.ones((2, 3)), requires_grad=True, name="W")
    swapped, kept = w.transpose(0, 1), w.transpose(1, 1)
    stepper = Stepper((swapped.sum() + kept.sum()))
    assert stepper.label(swapped) == stepper.label(w.T) == "W.T" and stepper.label(kept) == "transpose(W)"


def test_size_of_a_scalar_and_a_dim_named_twice_are_errors_as_in_torch(torch):
    scalar, matrix = tg.Tensor(np.float64(1.5)), tg.Tensor(np.ones((1, 2)))
    with pytest.raises(tg.OpError, match=r"size\(\(\), dim=0\): a 0-d tensor has no dims"):
        scalar.size(0)
    with pytest.raises(tg.OpError, match="a dim appears twice"):
        matrix.squeeze((0, 0))
    with pytest.raises(RuntimeError):
        torch.ones(1, 2).squeeze((0, 0))


def test_sgd_takes_torchs_default_lr_and_label_smoothing_is_not_a_bool(torch):
    w = tg.Tensor(np.ones(2), requires_grad=True)
    assert tg.optim.SGD([w]).param_groups[0]["lr"] == torch.optim.SGD([torch.ones(2, requires_grad=True)]).defaults["lr"]
    with pytest.raises(TypeError, match="label_smoothing must be a number, got bool"):
        tg.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array([0, 1]), label_smoothing=True)
