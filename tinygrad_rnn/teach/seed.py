"""The seed blog post's two networks, in its own notation: row vectors, x W, and its parameter names.

    two-layer network:  s_t  = Φ(x_t W_x + s_{t-1} W_s)
                        s'_t = Φ(s_t W_y + s'_{t-1} W_s')
                        O_t  = s'_t W
    three-step network: s_t  = Φ(x_t W_x + s_{t-1} W_s),  t = 1, 2, 3
                        y_3  = s_3 W_y
                        E_3  = ½ ‖y_3 − d_3‖²        (so dE_3/dy_3 = y_3 − d_3)

Φ is tanh or relu. There are no biases, as in the seed's equations. Tensors carry the seed's names (s_1, s'_2,
O_3, y_3, E_3, ...) and steps are numbered from t=1, so a diagram reads like the post. The post's formulas
(1)-(3) for dE_3/dW_s and dE_3/dW_x are not coded anywhere: they are what the tape's walk computes when it
sums the contributions of the three uses of W_s (or W_x).
"""
import math

import numpy as np

from ..nn import Module, Parameter, as_tensor, check_size, float_dtype
from ..core.rng import generator
from ..core.mode import scope
from ..core.tensor import Tensor

__all__ = ["TwoLayerRNN", "ThreeStepRNN", "two_layer_network", "three_step_network"]


def _phi(phi, owner):
    if phi not in ("tanh", "relu"):
        raise ValueError(f"{owner}: phi must be 'tanh' or 'relu', got {phi!r}")
    return phi


def _weight(rows, cols, dtype, rng):
    """U(±1/sqrt(rows)): the scale PyTorch uses for its recurrent weights."""
    bound = 1 / math.sqrt(rows)
    data = (rng or generator()).uniform(-bound, bound, size=(rows, cols))
    return Parameter(data.astype(float_dtype(dtype)))


def _named(tensor, name):
    tensor.name = name
    return tensor


def _steps(xs, size, owner):
    """The inputs x_1..x_T as a list of tensors, from a list of row vectors or an array with time first."""
    if isinstance(xs, (list, tuple)):
        steps = [as_tensor(x, owner, f"x_{t}") for t, x in enumerate(xs, 1)]
    else:
        xs = as_tensor(xs, owner, "xs")
        steps = [xs[t] for t in range(xs.shape[0])] if xs.ndim >= 2 else []
    if not steps or any(x.ndim not in (1, 2) or x.shape[-1] != size for x in steps):
        raise ValueError(f"{owner}: xs must hold T >= 1 row vectors x_t of shape ({size},) or (B, {size}): "
                         "a list, or an array (T, input_size) / (T, B, input_size)")
    return [x if x.name else _named(x, f"x_{t}") for t, x in enumerate(steps, 1)]


def _initial(value, like_x, size, dtype, owner, name):
    shape = like_x.shape[:-1] + (size,)
    if value is None:
        return Tensor(np.zeros(shape, dtype=dtype), name=name)
    value = as_tensor(value, owner, name)
    if value.shape != shape:
        raise ValueError(f"{owner}: {name} must have the shape of one state row, {shape}, got {value.shape}")
    if value.name is None:
        value.name = name
    return value


def _act(pre, phi):
    return pre.tanh() if phi == "tanh" else pre.relu()


class TwoLayerRNN(Module):
    """The seed's two-layer network. Call: net(xs, s_0=None, s_prime_0=None) -> {"s_1": .., "s'_1": .., "O_1": ..}."""

    def __init__(self, input_size, hidden_size, output_size, phi="tanh", second_hidden_size=None, dtype=None,
                 name="seed", rng=None):
        owner = "TwoLayerRNN"
        self.phi = _phi(phi, owner)
        self.name = name
        I = check_size(input_size, "input_size", owner)
        H = check_size(hidden_size, "hidden_size", owner)
        H2 = check_size(second_hidden_size or hidden_size, "second_hidden_size", owner)
        O = check_size(output_size, "output_size", owner)
        self.W_x, self.W_s = _weight(I, H, dtype, rng), _weight(H, H, dtype, rng)
        self.W_y = _weight(H, H2, dtype, rng)
        setattr(self, "W_s'", _weight(H2, H2, dtype, rng))     # the seed's name, kept letter for letter
        self.W = _weight(H2, O, dtype, rng)

    def forward(self, xs, s_0=None, s_prime_0=None):
        W_sp = getattr(self, "W_s'")
        xs = _steps(xs, self.W_x.shape[0], "TwoLayerRNN")
        s = _initial(s_0, xs[0], self.W_s.shape[0], self.W_x.dtype, "TwoLayerRNN", "s_0")
        sp = _initial(s_prime_0, xs[0], W_sp.shape[0], self.W_x.dtype, "TwoLayerRNN", "s'_0")
        out = {}
        for t, x in enumerate(xs, 1):
            with scope(f"{self.name}/layer0/t={t}"):
                s = out[f"s_{t}"] = _named(_act(x @ self.W_x + s @ self.W_s, self.phi), f"s_{t}")
            with scope(f"{self.name}/layer1/t={t}"):
                sp = out[f"s'_{t}"] = _named(_act(s @ self.W_y + sp @ W_sp, self.phi), f"s'_{t}")
            with scope(f"{self.name}/output/t={t}"):
                out[f"O_{t}"] = _named(sp @ self.W, f"O_{t}")
        return out


class ThreeStepRNN(Module):
    """The network of the seed's BPTT figure. Call: net(xs, d, s_0=None) -> {"s_1": .., "y_3": .., "E_3": ..}.

    xs holds x_1..x_T (T = 3 in the seed; any T >= 1 works and names y_T, E_T).
    """

    def __init__(self, input_size, hidden_size, output_size, phi="tanh", dtype=None, name="seed", rng=None):
        owner = "ThreeStepRNN"
        self.phi = _phi(phi, owner)
        self.name = name
        I = check_size(input_size, "input_size", owner)
        H = check_size(hidden_size, "hidden_size", owner)
        O = check_size(output_size, "output_size", owner)
        self.W_x, self.W_s, self.W_y = _weight(I, H, dtype, rng), _weight(H, H, dtype, rng), _weight(H, O, dtype, rng)

    def forward(self, xs, d, s_0=None):
        xs = _steps(xs, self.W_x.shape[0], "ThreeStepRNN")
        T = len(xs)
        s = _initial(s_0, xs[0], self.W_s.shape[0], self.W_x.dtype, "ThreeStepRNN", "s_0")
        out = {}
        for t, x in enumerate(xs, 1):
            with scope(f"{self.name}/t={t}"):
                s = out[f"s_{t}"] = _named(_act(x @ self.W_x + s @ self.W_s, self.phi), f"s_{t}")
        with scope(f"{self.name}/t={T}"):
            y = out[f"y_{T}"] = _named(s @ self.W_y, f"y_{T}")
        d = as_tensor(d, "ThreeStepRNN", "d", f"d_{T}")
        if d.shape != y.shape:
            raise ValueError(f"ThreeStepRNN: d_{T} must have the shape of y_{T}, {y.shape}, got {d.shape}")
        if d.name is None:
            d.name = f"d_{T}"
        with scope(f"{self.name}/loss"):
            out[f"E_{T}"] = _named(0.5 * ((y - d) ** 2).sum(), f"E_{T}")
        return out


def _demo_weights(net, rng):
    """U(-0.1, 1)/sqrt(rows): mostly positive, so with non-negative inputs no relu unit starts dead."""
    for p in net.parameters():
        p.data = (rng.uniform(-0.1, 1, p.shape) / math.sqrt(p.shape[0])).astype(p.dtype)


def three_step_network(phi="tanh", seed=0, input_size=2, hidden_size=3, output_size=1, s_0="random",
                       dtype=np.float64, steps=3):
    """The seed's BPTT example, built from `seed` alone: returns (E_3, named) where named maps
    x_1..x_3, d_3, s_0..s_3, y_3, E_3, W_x, W_s, W_y to their tensors.

    The numbers depend on `seed` only, not on phi, so tanh and relu can be compared on the same weights and
    data. They are drawn so that relu units are alive: non-negative x_t and s_0, mostly positive weights.
    s_0="random" starts from a small nonzero state, so all three terms of formula (2) are nonzero;
    s_0="zeros" starts from zeros, as PyTorch does (then the t=1 term of dE_3/dW_s vanishes).
    `steps` unrolls over T steps instead of 3 (then E_T, y_T, d_T); T=3 gives the same numbers as before.
    """
    _start(None, s_0, 0, dtype, "three_step_network")            # checked before anything is drawn
    rng = np.random.default_rng(seed)
    net = ThreeStepRNN(input_size, hidden_size, output_size, phi=phi, dtype=dtype)
    _demo_weights(net, rng)
    T = check_size(steps, "steps", "three_step_network")
    xs = [Tensor(rng.uniform(0, 1, input_size).astype(dtype), name=f"x_{t}") for t in range(1, T + 1)]
    d = Tensor(rng.uniform(-1, 1, output_size).astype(dtype), name=f"d_{T}")
    state = Tensor(_start(rng, s_0, hidden_size, dtype, "three_step_network"), name="s_0")
    out = net(xs, d, state)
    named = {f"x_{t}": x for t, x in enumerate(xs, 1)} | {f"d_{T}": d, "s_0": state} | out
    named |= dict(net.named_parameters())
    return out[f"E_{T}"], named


def _start(rng, s_0, size, dtype, owner):
    """An initial state: small non-negative random values ("random") or zeros ("zeros")."""
    if s_0 not in ("random", "zeros"):
        raise ValueError(f"{owner}: s_0 must be 'random' or 'zeros', got {s_0!r}")
    if rng is None:                                       # only checking
        return None
    return rng.uniform(0, 0.5, size).astype(dtype) if s_0 == "random" else np.zeros(size, dtype)


def two_layer_network(phi="tanh", seed=0, steps=3, input_size=2, hidden_size=3, output_size=1, dtype=np.float64,
                      s_0="zeros"):
    """The seed's two-layer network on `steps` random inputs, built from `seed` alone (drawn as in
    three_step_network): returns (E, named) with E = Σ_t ½ ‖O_t − d_t‖² and named mapping x_t, d_t, s_t,
    s'_t, O_t, E_t, E and the weights to their tensors. s_0: "zeros" (both layers start from zeros) or "random"."""
    T = check_size(steps, "steps", "two_layer_network")
    _start(None, s_0, 0, dtype, "two_layer_network")
    rng = np.random.default_rng(seed)
    net = TwoLayerRNN(input_size, hidden_size, output_size, phi=phi, dtype=dtype)
    _demo_weights(net, rng)
    xs = [Tensor(rng.uniform(0, 1, input_size).astype(dtype), name=f"x_{t}") for t in range(1, T + 1)]
    ds = [Tensor(rng.uniform(-1, 1, output_size).astype(dtype), name=f"d_{t}") for t in range(1, T + 1)]
    starts = [Tensor(_start(rng, s_0, hidden_size, dtype, "two_layer_network"), name=n) for n in ("s_0", "s'_0")]
    out = net(xs, *starts)
    with scope(f"{net.name}/loss"):
        terms = [_named(0.5 * ((out[f"O_{t}"] - d) ** 2).sum(), f"E_{t}") for t, d in enumerate(ds, 1)]
        E = 0.0                             # a running sum, the same op at every step: E_≤1 = 0 + E_1, E_≤2 = ...
        for t, term in enumerate(terms, 1):
            E = _named(E + term, f"E_≤{t}" if t < len(terms) else "E")
    named = {f"x_{t}": x for t, x in enumerate(xs, 1)} | {f"d_{t}": d for t, d in enumerate(ds, 1)} | out
    named |= {f"E_{t}": term for t, term in enumerate(terms, 1)}
    named |= {"E": E, "s_0": starts[0], "s'_0": starts[1]} | dict(net.named_parameters())
    return E, named
