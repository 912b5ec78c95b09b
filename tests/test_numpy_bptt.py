"""Tests for the hand-written numpy BPTT baselines in benchmarks/numpy_bptt.py.

* every gradient vs. central finite differences (float64),
* forward values vs. a naive per-step, per-gate reference,
* dtype preservation (float32 in -> float32 out),
* outputs and gradients vs. torch.nn.LSTM / GRU / RNN (float64, tol 1e-10),
  only where torch is importable (required when TINYGRAD_RNN_REQUIRE_TORCH is set, as in CI).
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import numpy_bptt as nb  # noqa: E402
from conftest import required  # noqa: E402

T, B, I, H = 3, 2, 3, 4
G = {"lstm": 4, "gru": 3, "rnn": 1}
KINDS = ["lstm", "gru", "rnn"]


def make_inputs(kind, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    g = G[kind]
    d = {
        "x": rng.standard_normal((T, B, I)),
        "h0": rng.standard_normal((B, H)) * 0.5,
        "c0": rng.standard_normal((B, H)) * 0.5,
        "w_ih": rng.standard_normal((g * H, I)) * 0.5,
        "w_hh": rng.standard_normal((g * H, H)) * 0.5,
        "b_ih": rng.standard_normal(g * H) * 0.5,
        "b_hh": rng.standard_normal(g * H) * 0.5,
    }
    if kind != "lstm":
        del d["c0"]
    R = rng.standard_normal((T, B, H))
    return {k: v.astype(dtype) for k, v in d.items()}, R.astype(dtype)


def forward(kind, d):
    """Call the baseline forward with the inputs of dict d; returns (out, cache)."""
    out, _, cache = getattr(nb, kind + "_forward")(**d)
    return out, cache


# ----------------------------------------------------------------------------- naive reference

def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def naive(kind, x, h0, w_ih, w_hh, b_ih, b_hh, c0=None):
    """Direct per-step evaluation with separate per-gate weights. Returns (out, h_n, c_n)."""
    Wi = np.split(w_ih, G[kind])
    Wh = np.split(w_hh, G[kind])
    bi = np.split(b_ih, G[kind])
    bh = np.split(b_hh, G[kind])
    h, c, out = h0, c0, []
    for xt in x:
        pre = [xt @ Wi[k].T + bi[k] for k in range(G[kind])]
        hid = [h @ Wh[k].T + bh[k] for k in range(G[kind])]
        if kind == "lstm":
            i, f = sig(pre[0] + hid[0]), sig(pre[1] + hid[1])
            g, o = np.tanh(pre[2] + hid[2]), sig(pre[3] + hid[3])
            c = f * c + i * g
            h = o * np.tanh(c)
        elif kind == "gru":
            r, z = sig(pre[0] + hid[0]), sig(pre[1] + hid[1])
            n = np.tanh(pre[2] + r * hid[2])
            h = (1 - z) * n + z * h
        else:
            h = np.tanh(pre[0] + hid[0])
        out.append(h)
    return np.stack(out), h, c


@pytest.mark.parametrize("kind", KINDS)
def test_forward_matches_naive(kind):
    d, _ = make_inputs(kind)
    out, state, _ = getattr(nb, kind + "_forward")(**d)
    ref_out, ref_h, ref_c = naive(kind, **d)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    if kind == "lstm":
        np.testing.assert_allclose(state[0], ref_h, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(state[1], ref_c, rtol=1e-12, atol=1e-13)
    else:
        np.testing.assert_allclose(state, ref_h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(out[-1], ref_h, rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------- finite differences

def fd_grad(loss, arr, eps=1e-6):
    """Central finite-difference gradient of loss() w.r.t. every entry of arr (in place)."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        lp = loss()
        arr[idx] = old - eps
        lm = loss()
        arr[idx] = old
        grad[idx] = (lp - lm) / (2 * eps)
    return grad


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_finite_differences(kind):
    d, R = make_inputs(kind, seed=1)
    out, cache = forward(kind, d)
    grads = getattr(nb, kind + "_backward")(R, cache)
    assert set(grads) == set(d)

    def loss():
        return float(np.sum(forward(kind, d)[0] * R))

    for name in d:
        num = fd_grad(loss, d[name])
        assert grads[name].shape == d[name].shape, name
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-8, err_msg=name)


def make_stack(seed=2, L=2, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((L, B, H)) * 0.5
    c0 = rng.standard_normal((L, B, H)) * 0.5
    params = [tuple(rng.standard_normal(s) * 0.5 for s in
                    [(4 * H, I if l == 0 else H), (4 * H, H), (4 * H,), (4 * H,)])
              for l in range(L)]
    R = rng.standard_normal((T, B, H))
    cast = lambda a: a.astype(dtype)  # noqa: E731
    return cast(x), cast(h0), cast(c0), [tuple(map(cast, p)) for p in params], cast(R)


def test_multilayer_lstm_finite_differences():
    x, h0, c0, params, R = make_stack()
    out, (hn, cn), caches = nb.multilayer_lstm_forward(x, h0, c0, params)
    # layer stacking: layer 1 is a plain LSTM fed with layer 0's output
    out0, (h00, c00), _ = nb.lstm_forward(x, h0[0], c0[0], *params[0])
    out1, _, _ = nb.lstm_forward(out0, h0[1], c0[1], *params[1])
    np.testing.assert_allclose(out, out1, rtol=0, atol=0)
    np.testing.assert_allclose(hn[0], h00, rtol=0, atol=0)
    np.testing.assert_allclose(cn[0], c00, rtol=0, atol=0)
    g = nb.multilayer_lstm_backward(R, caches)

    def loss():
        return float(np.sum(nb.multilayer_lstm_forward(x, h0, c0, params)[0] * R))

    for name, arr in [("x", x), ("h0", h0), ("c0", c0)]:
        np.testing.assert_allclose(g[name], fd_grad(loss, arr), rtol=1e-6, atol=1e-8,
                                   err_msg=name)
    for l, p in enumerate(params):
        for name, arr in zip(["w_ih", "w_hh", "b_ih", "b_hh"], p):
            np.testing.assert_allclose(g["layers"][l][name], fd_grad(loss, arr),
                                       rtol=1e-6, atol=1e-8, err_msg=f"{name} layer {l}")


# ----------------------------------------------------------------------------- dtype / no side effects

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved_and_inputs_untouched(kind, dtype):
    d, R = make_inputs(kind, seed=3, dtype=dtype)
    before = {k: v.copy() for k, v in d.items()}
    out, state, cache = getattr(nb, kind + "_forward")(**d)
    grads = getattr(nb, kind + "_backward")(R, cache)
    for a in [out, *(state if kind == "lstm" else (state,)), *grads.values()]:
        assert a.dtype == dtype
    for k in d:
        np.testing.assert_array_equal(d[k], before[k])
    if dtype == np.float32:  # float32 result still close to the float64 one
        d64 = {k: v.astype(np.float64) for k, v in d.items()}
        out64, _, cache64 = getattr(nb, kind + "_forward")(**d64)
        g64 = getattr(nb, kind + "_backward")(R.astype(np.float64), cache64)
        np.testing.assert_allclose(out, out64, rtol=1e-4, atol=1e-5)
        for k in grads:
            np.testing.assert_allclose(grads[k], g64[k], rtol=1e-4, atol=1e-4, err_msg=k)


# ----------------------------------------------------------------------------- torch

def import_torch():
    """torch, or skip; in CI (TINYGRAD_RNN_REQUIRE_TORCH set) a missing torch is an error."""
    if required("TINYGRAD_RNN_REQUIRE_TORCH"):
        import torch
        return torch
    return pytest.importorskip("torch")


def torch_reference(kind, d, R):
    """Outputs and grads from torch.nn.{LSTM,GRU,RNN} (float64) with copied weights."""
    torch = import_torch()
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    kw = {"nonlinearity": "tanh"} if kind == "rnn" else {}
    mod = cls(I, H, num_layers=1, **kw).double()
    with torch.no_grad():
        for name in ["w_ih", "w_hh", "b_ih", "b_hh"]:
            tname = name.replace("w_", "weight_").replace("b_", "bias_") + "_l0"
            getattr(mod, tname).copy_(torch.from_numpy(d[name]))
    t = {k: torch.tensor(v, requires_grad=True) for k, v in d.items()
         if k in ("x", "h0", "c0")}
    hx = (t["h0"][None], t["c0"][None]) if kind == "lstm" else t["h0"][None]
    out, state = mod(t["x"], hx)
    (out * torch.from_numpy(R)).sum().backward()
    grads = {k: v.grad.numpy() for k, v in t.items()}
    for name in ["w_ih", "w_hh", "b_ih", "b_hh"]:
        tname = name.replace("w_", "weight_").replace("b_", "bias_") + "_l0"
        grads[name] = getattr(mod, tname).grad.numpy()
    state = tuple(s[0].detach().numpy() for s in state) if kind == "lstm" \
        else state[0].detach().numpy()
    return out.detach().numpy(), state, grads


@pytest.mark.parametrize("kind", KINDS)
def test_against_torch(kind):
    import_torch()
    d, R = make_inputs(kind, seed=4)
    out, state, cache = getattr(nb, kind + "_forward")(**d)
    grads = getattr(nb, kind + "_backward")(R, cache)
    t_out, t_state, t_grads = torch_reference(kind, d, R)
    np.testing.assert_allclose(out, t_out, rtol=0, atol=1e-10)
    if kind == "lstm":
        np.testing.assert_allclose(state[0], t_state[0], rtol=0, atol=1e-10)
        np.testing.assert_allclose(state[1], t_state[1], rtol=0, atol=1e-10)
    else:
        np.testing.assert_allclose(state, t_state, rtol=0, atol=1e-10)
    assert set(grads) == set(t_grads)
    for k in grads:
        np.testing.assert_allclose(grads[k], t_grads[k], rtol=0, atol=1e-10, err_msg=k)


def test_multilayer_lstm_against_torch():
    torch = import_torch()
    x, h0, c0, params, R = make_stack(seed=5)
    out, (hn, cn), caches = nb.multilayer_lstm_forward(x, h0, c0, params)
    g = nb.multilayer_lstm_backward(R, caches)

    mod = torch.nn.LSTM(I, H, num_layers=2).double()
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    with torch.no_grad():
        for l, p in enumerate(params):
            for n, a in zip(names, p):
                getattr(mod, f"{n}_l{l}").copy_(torch.from_numpy(a))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    t_out, (t_hn, t_cn) = mod(tx, (th, tc))
    (t_out * torch.from_numpy(R)).sum().backward()

    tol = dict(rtol=0, atol=1e-10)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **tol)
    np.testing.assert_allclose(hn, t_hn.detach().numpy(), **tol)
    np.testing.assert_allclose(cn, t_cn.detach().numpy(), **tol)
    np.testing.assert_allclose(g["x"], tx.grad.numpy(), **tol)
    np.testing.assert_allclose(g["h0"], th.grad.numpy(), **tol)
    np.testing.assert_allclose(g["c0"], tc.grad.numpy(), **tol)
    for l in range(2):
        for k, n in zip(["w_ih", "w_hh", "b_ih", "b_hh"], names):
            np.testing.assert_allclose(g["layers"][l][k],
                                       getattr(mod, f"{n}_l{l}").grad.numpy(), **tol,
                                       err_msg=f"{k} layer {l}")
