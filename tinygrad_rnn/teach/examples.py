"""The example networks every command shows (`step`, `player`, `draw`, `bptt`), built in one place.

    example = example_network(model="seed", steps=3, layers=1, phi="tanh", s0="random", seed=0)
    example.loss, example.names, example.title

seed, 1 layer:  the seed's BPTT network, s_t = Φ(x_t W_x + s_{t-1} W_s), y_T = s_T W_y, E_T = ½‖y_T − d_T‖²
                (the three-step network when T = 3);
seed, 2 layers: the seed's two-layer network, s_t, s'_t = Φ(s_t W_y + s'_{t-1} W_s'), O_t = s'_t W,
                E = Σ_t ½‖O_t − d_t‖²;
rnn/lstm/gru:   tg.RNN/LSTM/GRU (torch names, `layers` stacked) and a linear read-out `head` of the last
                state, E_T = ½‖head(h_T) − d_T‖² -- the same shape of problem as the seed's.
s0: "random" starts every state from small random values (so every term of formula (2) is non-zero),
"zeros" from zeros as PyTorch does. The numbers depend on `seed` only.
"""
from typing import NamedTuple

import numpy as np

from .. import nn
from .. import rnn as layers_
from ..core import rng
from ..core.tensor import Tensor
from . import seed as seed_nets

MODELS = ("seed", "rnn", "lstm", "gru")
PHIS = ("tanh", "relu")
STARTS = ("random", "zeros")


class Example(NamedTuple):
    loss: Tensor
    names: dict            # display name -> parameter (W_x, W_s, ...; weight_ih_l0, ..., head.weight)
    title: str             # what was built: "the seed's three-step network", "LSTM, 2 layers, 5 steps"


def recurrent_layer(kind, input_size, hidden_size, num_layers=1, phi="tanh", dtype=np.float64):
    """tg.RNN (nonlinearity phi), tg.LSTM or tg.GRU of the given sizes."""
    if kind == "rnn":
        return layers_.RNN(input_size, hidden_size, num_layers, nonlinearity=phi, dtype=dtype)
    return {"lstm": layers_.LSTM, "gru": layers_.GRU}[kind](input_size, hidden_size, num_layers, dtype=dtype)


def example_network(model="seed", steps=3, layers=1, phi="tanh", s0="random", seed=0, hidden=3, inputs=2):
    """The example `model` unrolled over `steps` steps (see the module docstring)."""
    for value, allowed, what in ((model, MODELS, "model"), (phi, PHIS, "phi"), (s0, STARTS, "s0")):
        if value not in allowed:
            raise ValueError(f"example network: {what} must be one of {', '.join(allowed)}, got {value!r}")
    if model == "seed":
        return _seed(steps, layers, phi, s0, seed, hidden, inputs)
    return _layer(model, steps, layers, phi, s0, seed, hidden, inputs)


def _steps(T):
    return f"{T} step{'s' * (T != 1)}"


def _seed(T, layers, phi, s0, seed, hidden, inputs):
    if layers == 1:
        E, named = seed_nets.three_step_network(phi=phi, seed=seed, input_size=inputs, hidden_size=hidden,
                                                s_0=s0, steps=T)
        title = "the seed's three-step network" if T == 3 else f"the seed's network unrolled over {_steps(T)}"
        return Example(E, {n: named[n] for n in ("W_x", "W_s", "W_y")}, title)
    if layers == 2:
        E, named = seed_nets.two_layer_network(phi=phi, seed=seed, steps=T, input_size=inputs, hidden_size=hidden,
                                               s_0=s0)
        names = {n: named[n] for n in ("W_x", "W_s", "W_y", "W_s'", "W")}
        return Example(E, names, f"the seed's two-layer network, {_steps(T)}")
    raise ValueError(f"the seed's networks have 1 layer (the BPTT network) or 2 (the two-layer network), not {layers}")


def _layer(model, T, layers, phi, s0, seed, hidden, inputs):
    rng.manual_seed(seed)                                 # the modules' weights follow it
    net = recurrent_layer(model, inputs, hidden, layers, phi)
    head = nn.Linear(hidden, 1, dtype=np.float64)
    draw = rng.generator()
    x = Tensor(draw.uniform(-1, 1, (T, 1, inputs)), name="x")
    d = Tensor(draw.uniform(-1, 1, (1, 1)), name=f"d_{T}")
    start = None
    if s0 == "random":
        start = [Tensor(draw.uniform(0, 0.5, (layers, 1, hidden)), name=n) for n in ("h_0", "c_0")]
        start = tuple(start) if model == "lstm" else start[0]
    _, h_n = net(x, start)
    h_T = (h_n[0] if model == "lstm" else h_n)[-1]
    y = head(h_T)
    y.name = f"y_{T}"
    E = ((y - d) ** 2).sum() * 0.5
    E.name = f"E_{T}"
    for n, p in head.named_parameters():
        p.name = f"head.{n}"                            # the read-out's name in every picture, step and page
    names = dict(net.named_parameters()) | {p.name: p for p in head.parameters()}
    kind = "relu-RNN" if model == "rnn" and phi == "relu" else model.upper()
    return Example(E, names, f"{kind}, {layers} layer{'s' * (layers > 1)}, {_steps(T)}")
