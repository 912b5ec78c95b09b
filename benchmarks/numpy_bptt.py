"""Hand-written, vectorized numpy baselines: forward + full BPTT backward, as tight as numpy allows.

These are the "limit for any numpy framework": the same math as torch.nn.LSTM / GRU / RNN (single layer,
batch_first=False, PyTorch weight layouts and gate orders), written directly in numpy:

* the input projection of all time steps is a single matmul, written into the buffer that becomes the gates,
* one matmul per step for the recurrent part (forward and backward), into a preallocated buffer (out=),
* LSTM and GRU: no allocation inside the time loop; every ufunc writes in place (out=) into buffers made
  once per call, over contiguous memory (see the note above lstm_forward); the RNN's step is three calls on
  contiguous (B, H) rows already,
* the LSTM's gates are reordered once per call to (i, f, o, g), so that one sigmoid covers the three
  sigmoid gates and one tanh the candidate, each over one contiguous column block (and their derivatives
  likewise); the gradients are put back in torch's order at the end,
* the sigmoid is 0.5 tanh(a / 2) + 0.5, in place (stable, keeps the dtype),
* dW_ih / dW_hh / dx are one big matmul each over all steps at the end,
* the dtype of the inputs is kept (float32 in -> float32 out).

Shapes: x (T, B, I), h0 / c0 (B, H), w_ih (G*H, I), w_hh (G*H, H), b_ih / b_hh (G*H,), out (T, B, H).
Backward functions take dL/d_out and assume dL/dh_n = dL/dc_n = 0. The returned `out` is a view of the
cached hidden states; do not modify it in place before calling backward.
"""
import numpy as np


def _finish(gx, gh, x, h_prev, w_ih):
    """Weight, bias and input grads from the pre-activation grads of all steps, each one big product.

    gx: dL/d(x W_ih^T + b_ih), gh: dL/d(h W_hh^T + b_hh), both (T*B, G*H); h_prev: h_{t-1} as (T*B, H).
    """
    T, B, I = x.shape
    return {
        "x": (gx @ w_ih).reshape(T, B, I),                  # dx = dG_x W_ih
        "w_ih": gx.T @ x.reshape(T * B, I),                 # dW_ih = sum_t dG_x^T x_t
        "w_hh": gh.T @ h_prev,                              # dW_hh = sum_t dG_h^T h_{t-1}
        "b_ih": gx.sum(0),                                  # db_ih = sum_t dG_x
        "b_hh": gh.sum(0),                                  # db_hh = sum_t dG_h
    }


def _finish_features_first(dgx, dgh, x, hs, w_ih):
    """_finish for (T, G*H, B) gradients and (T + 1, H, B) states: one transposing copy of each first."""
    rows = lambda a: a.transpose(0, 2, 1).reshape(-1, a.shape[1])     # noqa: E731
    gx = rows(dgx)
    return _finish(gx, gx if dgh is dgx else rows(dgh), x, rows(hs[:-1]), w_ih)


def _projection(x, w_ih, bias):
    """W_ih x_t + bias for all T steps as (T, G*H, B): one matmul, bias added in place, one transposing copy."""
    T, B, I = x.shape
    rows = x.reshape(T * B, I) @ w_ih.T
    np.add(rows, bias, out=rows)
    return np.ascontiguousarray(rows.reshape(T, B, -1).transpose(0, 2, 1))


def _sigmoid_of_half_(a):
    """a <- sigmoid(2 a) = 0.5 tanh(a) + 0.5 in place: the weights of the sigmoid gates are halved beforehand."""
    np.tanh(a, out=a)
    np.multiply(a, 0.5, out=a)
    np.add(a, 0.5, out=a)


def _halved(rows, *arrays):
    """Copies of weight / bias arrays with their first `rows` rows halved (the sigmoid gates' inputs)."""
    out = [a.copy() for a in arrays]
    for a in out:
        a[:rows] *= 0.5
    return out


# The LSTM and GRU below keep every per-step array features first, (G*H, B) and (H, B): each gate is then a
# contiguous block of rows, so every ufunc runs over contiguous memory (a column block of a (B, G*H) array is
# strided, and numpy's strided loops cost about half as much again per call at these sizes). The recurrent
# product is W_hh h, one matmul into a preallocated buffer; the outputs are returned as (T, B, H) views.

# ----------------------------------------------------------------------------- LSTM

_IFOG = (0, 1, 3, 2)            # torch's gate blocks i, f, g, o taken in the order i, f, o, g


def _gate_rows(H, order):
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in order])


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """LSTM forward (torch's gate order i, f, g, o), as torch.nn.LSTM.

    i, f, o = sigmoid(.), g = tanh(.) of x_t W_ih^T + b_ih + h W_hh^T + b_hh;
    c' = f * c + i * g;  h' = o * tanh(c').
    Returns (out (T, B, H), (h_n, c_n), cache).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    dt = x.dtype
    rows = _gate_rows(H, _IFOG)                             # i, f, o, g: one sigmoid block, then tanh
    w_ih_p, w_hh_p = w_ih[rows], w_hh[rows]
    w_ih_f, w_hh_f, b_f = _halved(3 * H, w_ih_p, w_hh_p, (b_ih + b_hh)[rows])
    acts = _projection(x, w_ih_f, b_f)                      # (T, 4H, B): becomes the gate activations
    hs = np.empty((T + 1, H, B), dt)
    cs = np.empty((T + 1, H, B), dt)
    tcs = np.empty((T, H, B), dt)                           # tanh(c_t), reused in backward
    rec = np.empty((4 * H, B), dt)                          # W_hh h of one step
    ig = np.empty((H, B), dt)
    hs[0], cs[0] = h0.T, c0.T
    for t in range(T):
        a = acts[t]
        np.matmul(w_hh_f, hs[t], out=rec)
        np.add(a, rec, out=a)
        _sigmoid_of_half_(a[:3 * H])                        # i, f, o
        g = a[3 * H:]
        np.tanh(g, out=g)
        np.multiply(a[H:2 * H], cs[t], out=cs[t + 1])      # c' = f c + i g
        np.multiply(a[:H], g, out=ig)
        np.add(cs[t + 1], ig, out=cs[t + 1])
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(a[2 * H:3 * H], tcs[t], out=hs[t + 1])  # h' = o tanh(c')
    cache = (x, w_ih_p, w_hh_p, acts, hs, cs, tcs, rows)
    return hs[1:].transpose(0, 2, 1), (hs[T].T.copy(), cs[T].T.copy()), cache


def lstm_backward(d_out, cache):
    """BPTT for lstm_forward. Returns dict of grads: x, h0, c0, w_ih, w_hh, b_ih, b_hh."""
    x, w_ih_p, w_hh_p, acts, hs, cs, tcs, rows = cache
    T, H, B = tcs.shape
    dt = acts.dtype
    d_outs = np.ascontiguousarray(np.transpose(d_out, (0, 2, 1)))   # (T, H, B)
    w_hh_t = np.ascontiguousarray(w_hh_p.T)
    dg = np.empty_like(acts)                                # dL/d(gate pre-activations), (T, 4H, B), i f o g
    dh = np.empty((H, B), dt)
    dc = np.zeros((H, B), dt)                               # dL/dc_t, carried to c_{t-1} in place
    dh_next = np.zeros((H, B), dt)
    tmp = np.empty((H, B), dt)
    for t in range(T - 1, -1, -1):
        a, d, tc = acts[t], dg[t], tcs[t]
        np.add(d_outs[t], dh_next, out=dh)
        np.multiply(tc, tc, out=tmp)                        # dc += dh o (1 - tanh^2 c)
        np.subtract(1, tmp, out=tmp)
        np.multiply(tmp, a[2 * H:3 * H], out=tmp)
        np.multiply(tmp, dh, out=tmp)
        np.add(dc, tmp, out=dc)
        s = d[:3 * H]                                       # sigmoid' = s (1 - s) for i, f, o at once
        np.subtract(1, a[:3 * H], out=s)
        np.multiply(s, a[:3 * H], out=s)
        np.multiply(d[:2 * H].reshape(2, H, B), dc, out=d[:2 * H].reshape(2, H, B))
        np.multiply(d[:H], a[3 * H:], out=d[:H])            # dc/di = g
        np.multiply(d[H:2 * H], cs[t], out=d[H:2 * H])      # dc/df = c_{t-1}
        np.multiply(d[2 * H:3 * H], dh, out=d[2 * H:3 * H])
        np.multiply(d[2 * H:3 * H], tc, out=d[2 * H:3 * H])    # dh/do = tanh(c)
        dgg = d[3 * H:]                                     # dc/dg = i, tanh' = 1 - g^2
        np.multiply(a[3 * H:], a[3 * H:], out=dgg)
        np.subtract(1, dgg, out=dgg)
        np.multiply(dgg, a[:H], out=dgg)
        np.multiply(dgg, dc, out=dgg)
        np.multiply(dc, a[H:2 * H], out=dc)                 # dc_{t-1} = dc f
        np.matmul(w_hh_t, d, out=dh_next)                   # dh_{t-1} = W_hh^T dG
    grads = _finish_features_first(dg, dg, x, hs, w_ih_p)
    back = np.argsort(rows)                                 # i, f, o, g -> torch's i, f, g, o
    for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
        grads[name] = grads[name][back]
    grads["h0"], grads["c0"] = dh_next.T.copy(), dc.T.copy()
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
    b[:2 * H] += b_hh[:2 * H]                               # r, z hidden biases fold into the input projection
    w_ih_f, w_hh_f, b_f = _halved(2 * H, w_ih, w_hh, b)
    acts = _projection(x, w_ih_f, b_f)                      # (T, 3H, B): becomes r, z, n
    hn = np.empty((T, H, B), dt)                            # W_hn h + b_hn, needed for dr
    hs = np.empty((T + 1, H, B), dt)
    hp = np.empty((3 * H, B), dt)
    tmp = np.empty((H, B), dt)
    hs[0] = h0.T
    b_hn = b_hh[2 * H:, None]
    for t in range(T):
        a, h = acts[t], hs[t]
        np.matmul(w_hh_f, h, out=hp)
        rz = a[:2 * H]
        np.add(rz, hp[:2 * H], out=rz)
        _sigmoid_of_half_(rz)                               # r, z
        np.add(hp[2 * H:], b_hn, out=hn[t])
        n = a[2 * H:]
        np.multiply(a[:H], hn[t], out=tmp)
        np.add(n, tmp, out=n)
        np.tanh(n, out=n)
        np.subtract(h, n, out=tmp)                          # h' = n + z (h - n)
        np.multiply(a[H:2 * H], tmp, out=tmp)
        np.add(n, tmp, out=hs[t + 1])
    cache = (x, w_ih, w_hh, acts, hn, hs)
    return hs[1:].transpose(0, 2, 1), hs[T].T.copy(), cache


def gru_backward(d_out, cache):
    """BPTT for gru_forward. Returns dict of grads: x, h0, w_ih, w_hh, b_ih, b_hh."""
    x, w_ih, w_hh, acts, hn, hs = cache
    T, H, B = hn.shape
    dt = acts.dtype
    d_outs = np.ascontiguousarray(np.transpose(d_out, (0, 2, 1)))   # (T, H, B)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    dgx = np.empty_like(acts)                               # dL/d(W_ih x + b_ih)
    dgh = np.empty_like(acts)                               # dL/d(W_hh h + b_hh)
    dh = np.empty((H, B), dt)
    dh_next = np.zeros((H, B), dt)
    tmp = np.empty((H, B), dt)
    for t in range(T - 1, -1, -1):
        a, h, dx_t, dh_t = acts[t], hs[t], dgx[t], dgh[t]
        r, z, n = a[:H], a[H:2 * H], a[2 * H:]
        np.add(d_outs[t], dh_next, out=dh)
        dar, daz, dan = dx_t[:H], dx_t[H:2 * H], dx_t[2 * H:]
        np.multiply(n, n, out=dan)                          # dh'/dn = 1 - z, tanh' = 1 - n^2
        np.subtract(1, dan, out=dan)
        np.subtract(1, z, out=tmp)
        np.multiply(dan, tmp, out=dan)
        np.multiply(dan, dh, out=dan)
        s = dx_t[:2 * H]                                    # sigmoid' = s (1 - s) for r, z at once
        np.subtract(1, a[:2 * H], out=s)
        np.multiply(s, a[:2 * H], out=s)
        np.multiply(dar, hn[t], out=dar)                    # dn_pre/dr = hn
        np.multiply(dar, dan, out=dar)
        np.subtract(h, n, out=tmp)                          # dh'/dz = h - n
        np.multiply(daz, tmp, out=daz)
        np.multiply(daz, dh, out=daz)
        dh_t[:2 * H] = s
        np.multiply(dan, r, out=dh_t[2 * H:])               # dn_pre/dhn = r
        np.matmul(w_hh_t, dh_t, out=dh_next)                # dh_{t-1} = W_hh^T dG_h + z dh
        np.multiply(dh, z, out=tmp)
        np.add(dh_next, tmp, out=dh_next)
    grads = _finish_features_first(dgx, dgh, x, hs, w_ih)
    grads["h0"] = dh_next.T.copy()
    return grads


# ----------------------------------------------------------------------------- RNN (tanh)

def rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """Elman RNN forward, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), as torch.nn.RNN.

    Returns (out (T, B, H), h_n, cache).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    xp = (x.reshape(T * B, -1) @ w_ih.T + (b_ih + b_hh)).reshape(T, B, H)
    hs = np.empty((T + 1, B, H), x.dtype)             # (B, H) rows are contiguous already: no transposing
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
    grads = _finish(da.reshape(T * B, H), da.reshape(T * B, H), x, hs[:-1].reshape(T * B, H), w_ih)
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
