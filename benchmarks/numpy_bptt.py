"""Hand-written, vectorized numpy baselines: forward + full BPTT backward.

These are the "limit for any numpy framework": the same math as
torch.nn.LSTM / GRU / RNN (single layer, batch_first=False, PyTorch weight
layouts and gate orders), written directly in numpy with the usual tricks:

* the input projection of all time steps is a single matmul,
* one matmul per step for the recurrent part (forward and backward),
* dW_ih / dW_hh / dx are one big matmul each over all steps at the end,
* the dtype of the inputs is kept (float32 in -> float32 out).

Shapes: x (T, B, I), h0 / c0 (B, H), w_ih (G*H, I), w_hh (G*H, H),
b_ih / b_hh (G*H,), out (T, B, H).  Backward functions take dL/d_out and
assume dL/dh_n = dL/dc_n = 0.  The returned `out` is a view of the cached
hidden states; do not modify it in place before calling backward.
"""
import numpy as np


def _sigmoid(a):
    """Numerically stable logistic function that keeps the dtype."""
    return 0.5 * np.tanh(0.5 * a) + 0.5


def _finish(dgx, dgh, x, hs, w_ih):
    """Weight, bias and input grads from stacked pre-activation grads.

    dgx: dL/d(x @ w_ih.T + b_ih), dgh: dL/d(h @ w_hh.T + b_hh), both (T, B, G*H).
    """
    T, B, I = x.shape
    gx = dgx.reshape(T * B, -1)
    gh = dgh.reshape(T * B, -1)
    return {
        "x": (gx @ w_ih).reshape(T, B, I),                  # dx = dG_x W_ih
        "w_ih": gx.T @ x.reshape(T * B, I),                 # dW_ih = sum_t dG_x^T x_t
        "w_hh": gh.T @ hs[:-1].reshape(T * B, -1),          # dW_hh = sum_t dG_h^T h_{t-1}
        "b_ih": gx.sum(0),                                  # db_ih = sum_t dG_x
        "b_hh": gh.sum(0),                                  # db_hh = sum_t dG_h
    }


# ----------------------------------------------------------------------------- LSTM

def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """LSTM forward (gate order i, f, g, o), as torch.nn.LSTM.

    i, f, o = sigmoid(.), g = tanh(.) of x_t W_ih^T + b_ih + h W_hh^T + b_hh;
    c' = f * c + i * g;  h' = o * tanh(c').
    Returns (out (T, B, H), (h_n, c_n), cache).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    dt = x.dtype
    # all input projections at once; this buffer becomes the gate activations
    acts = (x.reshape(T * B, -1) @ w_ih.T + (b_ih + b_hh)).reshape(T, B, 4 * H)
    hs = np.empty((T + 1, B, H), dt)
    cs = np.empty((T + 1, B, H), dt)
    tcs = np.empty((T, B, H), dt)  # tanh(c_t), reused in backward
    hs[0], cs[0] = h0, c0
    w_hh_t = np.ascontiguousarray(w_hh.T)  # row-major: faster per-step matmul
    for t in range(T):
        a = acts[t]
        a += hs[t] @ w_hh_t
        a[:, :2 * H] = _sigmoid(a[:, :2 * H])               # i, f
        a[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])      # g
        a[:, 3 * H:] = _sigmoid(a[:, 3 * H:])               # o
        np.add(a[:, H:2 * H] * cs[t], a[:, :H] * a[:, 2 * H:3 * H], out=cs[t + 1])
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(a[:, 3 * H:], tcs[t], out=hs[t + 1])
    cache = (x, w_ih, w_hh, acts, hs, cs, tcs)
    return hs[1:], (hs[T].copy(), cs[T].copy()), cache


def lstm_backward(d_out, cache):
    """BPTT for lstm_forward. Returns dict of grads: x, h0, c0, w_ih, w_hh, b_ih, b_hh."""
    x, w_ih, w_hh, acts, hs, cs, tcs = cache
    T, B, H = tcs.shape
    dg = np.empty_like(acts)  # dL/d(gate pre-activations), (T, B, 4H)
    dh_next = np.zeros((B, H), acts.dtype)
    dc_next = np.zeros((B, H), acts.dtype)
    for t in range(T - 1, -1, -1):
        a, d = acts[t], dg[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        dh = d_out[t] + dh_next
        tc = tcs[t]
        dc = dc_next + dh * o * (1 - tc * tc)               # h = o tanh(c): dc += dh o (1 - tanh^2 c)
        d[:, :H] = dc * g * i * (1 - i)                     # dc/di = g, sigmoid' = s (1 - s)
        d[:, H:2 * H] = dc * cs[t] * f * (1 - f)            # dc/df = c_{t-1}
        d[:, 2 * H:3 * H] = dc * i * (1 - g * g)            # dc/dg = i, tanh' = 1 - g^2
        d[:, 3 * H:] = dh * tc * o * (1 - o)                # dh/do = tanh(c)
        dc_next = dc * f                                    # dc_{t-1} = dc f
        dh_next = d @ w_hh                                  # dh_{t-1} = dG W_hh
    grads = _finish(dg, dg, x, hs, w_ih)
    grads["h0"], grads["c0"] = dh_next, dc_next
    return grads


# ----------------------------------------------------------------------------- GRU

def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """GRU forward (gate order r, z, n), as torch.nn.GRU.

    r, z = sigmoid(x W_i^T + b_i + h W_h^T + b_h);
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn));  h' = (1 - z) * n + z * h.
    Returns (out (T, B, H), h_n, cache).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    dt = x.dtype
    b = b_ih.copy()
    b[:2 * H] += b_hh[:2 * H]  # r, z hidden biases fold into the input projection
    acts = (x.reshape(T * B, -1) @ w_ih.T + b).reshape(T, B, 3 * H)  # becomes r, z, n
    hn = np.empty((T, B, H), dt)  # h W_hn^T + b_hn, needed for dr
    hs = np.empty((T + 1, B, H), dt)
    hs[0] = h0
    w_hh_t, b_hn = np.ascontiguousarray(w_hh.T), b_hh[2 * H:]
    for t in range(T):
        a, h = acts[t], hs[t]
        hp = h @ w_hh_t
        a[:, :2 * H] = _sigmoid(a[:, :2 * H] + hp[:, :2 * H])          # r, z
        np.add(hp[:, 2 * H:], b_hn, out=hn[t])
        a[:, 2 * H:] = np.tanh(a[:, 2 * H:] + a[:, :H] * hn[t])        # n
        n, z = a[:, 2 * H:], a[:, H:2 * H]
        np.add(n, z * (h - n), out=hs[t + 1])                           # (1 - z) n + z h
    cache = (x, w_ih, w_hh, acts, hn, hs)
    return hs[1:], hs[T].copy(), cache


def gru_backward(d_out, cache):
    """BPTT for gru_forward. Returns dict of grads: x, h0, w_ih, w_hh, b_ih, b_hh."""
    x, w_ih, w_hh, acts, hn, hs = cache
    T, B, H = hn.shape
    dgx = np.empty_like(acts)  # dL/d(x W_ih^T + b_ih)
    dgh = np.empty_like(acts)  # dL/d(h W_hh^T + b_hh)
    dh_next = np.zeros((B, H), acts.dtype)
    for t in range(T - 1, -1, -1):
        a, h = acts[t], hs[t]
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        dh = d_out[t] + dh_next
        dan = dh * (1 - z) * (1 - n * n)                    # dh'/dn = 1 - z, tanh' = 1 - n^2
        dar = dan * hn[t] * r * (1 - r)                     # dn_pre/dr = hn
        daz = dh * (h - n) * z * (1 - z)                    # dh'/dz = h - n
        dgx[t, :, :H], dgx[t, :, H:2 * H], dgx[t, :, 2 * H:] = dar, daz, dan
        dgh[t, :, :2 * H] = dgx[t, :, :2 * H]
        dgh[t, :, 2 * H:] = dan * r                         # dn_pre/dhn = r
        dh_next = dh * z + dgh[t] @ w_hh                    # dh'/dh = z, plus through W_hh
    grads = _finish(dgx, dgh, x, hs, w_ih)
    grads["h0"] = dh_next
    return grads


# ----------------------------------------------------------------------------- RNN (tanh)

def rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """Elman RNN forward, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), as torch.nn.RNN.

    Returns (out (T, B, H), h_n, cache).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    xp = (x.reshape(T * B, -1) @ w_ih.T + (b_ih + b_hh)).reshape(T, B, H)
    hs = np.empty((T + 1, B, H), x.dtype)
    hs[0] = h0
    w_hh_t = np.ascontiguousarray(w_hh.T)  # row-major: faster per-step matmul
    for t in range(T):
        np.tanh(xp[t] + hs[t] @ w_hh_t, out=hs[t + 1])
    cache = (x, w_ih, w_hh, hs)
    return hs[1:], hs[T].copy(), cache


def rnn_backward(d_out, cache):
    """BPTT for rnn_forward. Returns dict of grads: x, h0, w_ih, w_hh, b_ih, b_hh."""
    x, w_ih, w_hh, hs = cache
    T = x.shape[0]
    B, H = hs.shape[1:]
    da = np.empty((T, B, H), hs.dtype)  # dL/d(pre-activation)
    dh_next = np.zeros((B, H), hs.dtype)
    for t in range(T - 1, -1, -1):
        h = hs[t + 1]
        np.multiply(d_out[t] + dh_next, 1 - h * h, out=da[t])  # tanh' = 1 - h^2
        dh_next = da[t] @ w_hh                                 # dh_{t-1} = da W_hh
    grads = _finish(da, da, x, hs, w_ih)
    grads["h0"] = dh_next
    return grads


# ----------------------------------------------------------------------------- stacked LSTM

def multilayer_lstm_forward(x, h0, c0, params):
    """Stacked LSTM (torch.nn.LSTM(num_layers=L)): layer l feeds layer l + 1.

    h0, c0: (L, B, H); params: list of (w_ih, w_hh, b_ih, b_hh) per layer.
    Returns (out (T, B, H), (h_n, c_n) each (L, B, H), caches).
    """
    caches, hn, cn = [], [], []
    for l, p in enumerate(params):
        x, (h, c), cache = lstm_forward(x, h0[l], c0[l], *p)
        caches.append(cache)
        hn.append(h)
        cn.append(c)
    return x, (np.stack(hn), np.stack(cn)), caches


def multilayer_lstm_backward(d_out, caches):
    """BPTT for multilayer_lstm_forward.

    Returns dict: x, h0 (L, B, H), c0 (L, B, H), and "layers": list of per-layer
    dicts with keys w_ih, w_hh, b_ih, b_hh.
    """
    layers, dh0, dc0 = [], [], []
    for cache in reversed(caches):
        g = lstm_backward(d_out, cache)
        d_out = g.pop("x")  # grad w.r.t. this layer's input = lower layer's d_out
        dh0.append(g.pop("h0"))
        dc0.append(g.pop("c0"))
        layers.append(g)
    return {"x": d_out, "h0": np.stack(dh0[::-1]), "c0": np.stack(dc0[::-1]),
            "layers": layers[::-1]}
