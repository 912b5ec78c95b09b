"""The gradient-flow lab: the seed's vanishing / exploding-gradient argument, measured on the tape.

For each model (tanh-RNN, relu-RNN, LSTM, GRU, with the same sizes) one forward over T steps, a loss that
reads only the last state, E_T = 1/2 (h_T w + b - 1)^2, and one backward walk, from which we read:

* ||dE_T/ds_t|| for every t: the gradient arriving at each state (LSTM: the pair (h_t, c_t));
* ||ds_t/ds_k|| for every t >= k: the largest singular value of the product of the one-step Jacobians
  ds_j/ds_{j-1} (j = k+1..t) the seed's formulas multiply together, the identity at t = k. Each one-step
  Jacobian is of the full state, (h, c) -> (h', c') for the LSTM, with h and c as independent inputs: it is
  read (via `stepper.jacobian`) off one application of the cell to fresh leaves holding the recorded
  state and the layer's weights;
* the contribution of each time step t to dE_T/dW_hh (the gradient on the edge into W_hh at step t),
  and the same after gradient clipping (`optim.clip_grad_norm`), which rescales the whole gradient.

`gradient_flow()` returns the numbers and `format_table()` prints them; `viz.plots.gradient_flow()` draws them
(matplotlib lives above the core, in viz).
"""
import textwrap
from dataclasses import dataclass

import numpy as np

from .. import nn
from .. import rnn as rnn_layers
from ..core import rng, tape
from ..core.functional import concat
from ..nn import check_size
from ..optim import clip_grad_norm
from .examples import recurrent_layer
from .stepper import jacobian
from .steps import step_of

KINDS = {"tanh": ("tanh-RNN", "rnn"), "relu": ("relu-RNN", "rnn"), "lstm": ("LSTM", "lstm"), "gru": ("GRU", "gru"),
         "irnn": ("IRNN (relu, W_hh = I)", "rnn")}
# the last two: a badly initialised relu-RNN (explodes), and an LSTM whose forget gate starts near 1
DEFAULT_MODELS = ("tanh", "relu", "irnn", "lstm", "gru", "relu:rho=3", "lstm:forget_bias=3")
OPTIONS = {  # option -> (kinds it applies to, how the label shows it)
    "rho": (("tanh", "relu", "lstm", "gru", "irnn"), "rho(W_hh)={:g}"),
    "forget_bias": (("lstm",), "forget bias +{:g}"),
    "update_bias": (("gru",), "update bias +{:g}"),
}


@dataclass
class Flow:
    """What one model's backward walk showed; arrays are indexed by time step t = 1..T at [t-1]."""
    label: str                 # e.g. 'relu-RNN (rho(W_hh)=3)'
    spec: str                  # e.g. 'relu:rho=3'
    steps: int
    loss: float
    state_grad: np.ndarray     # ||dE_T/ds_t||
    jacobian: np.ndarray       # ||ds_T/ds_k|| (largest singular value), k = 1..T: the last row of `jacobians`
    w_hh_terms: np.ndarray     # ||contribution to dE_T/dW_hh from step t||
    grad_norm: float           # norm of the whole parameter gradient, before clipping
    max_norm: float
    clip_scale: float          # what clip_grad_norm multiplied every gradient by (1.0: no clipping)
    jacobians: np.ndarray = None   # [t-1, k-1] = ||ds_t/ds_k|| for t >= k (1 on the diagonal), NaN for t < k

    @property
    def clipped_terms(self):
        return self.w_hh_terms * self.clip_scale

    @property
    def clipped_norm(self):
        return self.grad_norm * self.clip_scale


def parse_spec(spec):
    """'relu:rho=3' -> ('relu', {'rho': 3.0}).

    A model is tanh, relu, irnn (a relu-RNN with W_hh = I, Le et al. 2015), lstm or gru, optionally followed
    by ':option=value' parts: rho (the spectral radius given to each gate's block of W_hh), forget_bias (LSTM)
    or update_bias (GRU), added to the gate's bias so that it starts near 1 and the state is carried over.
    """
    kind, *parts = str(spec).split(":")
    if kind not in KINDS:
        raise ValueError(f"gradient_flow: unknown model {spec!r}; use one of {', '.join(KINDS)}, optionally "
                         "with options, e.g. relu:rho=3 or lstm:forget_bias=3")
    options = {}
    for part in parts:
        key, _, value = part.partition("=")
        if key not in OPTIONS or kind not in OPTIONS[key][0]:
            allowed = [k for k, (kinds, _) in OPTIONS.items() if kind in kinds]
            raise ValueError(f"gradient_flow: {kind} has no option {key!r} (in {spec!r}); it takes "
                             f"{', '.join(allowed)}")
        try:
            options[key] = float(value)
        except ValueError:
            raise ValueError(f"gradient_flow: {key} in {spec!r} must be a number, got {value!r}") from None
        if key == "rho" and not options[key] > 0:
            raise ValueError(f"gradient_flow: rho in {spec!r} must be positive")
    return kind, options


def label_of(spec):
    kind, options = parse_spec(spec)
    extra = ", ".join(OPTIONS[k][1].format(v) for k, v in options.items())
    return KINDS[kind][0] + (f" ({extra})" if extra else "")


def _layer(kind, input_size, hidden_size):
    rnn = kind in ("tanh", "relu", "irnn")
    layer = recurrent_layer("rnn" if rnn else kind, input_size, hidden_size, phi="tanh" if kind == "tanh" else "relu")
    if kind == "irnn":
        _identity_init(layer, input_size)
    return layer


def _identity_init(layer, input_size):
    """Le, Jaitly & Hinton (2015), "A simple way to initialize recurrent networks of rectified linear units":
    W_hh = I, zero biases, small input weights (N(0, 0.001), as in the paper). A relu unit that is on passes
    the gradient through unchanged, and W_hh = I neither shrinks nor grows it: dE/ds_t stays level."""
    H = layer.hidden_size
    layer.weight_hh_l0.data[...] = np.eye(H)
    layer.weight_ih_l0.data[...] = rng.generator().normal(0, 0.001 ** 0.5, (H, input_size))
    layer.bias_ih_l0.data[...] = 0
    layer.bias_hh_l0.data[...] = 0


def _set_radius(weight_hh, radius):
    """Rescale each gate's H x H block of W_hh so that its spectral radius is `radius`."""
    H = weight_hh.shape[1]
    for g in range(weight_hh.shape[0] // H):
        block = weight_hh.data[g * H:(g + 1) * H]
        block *= radius / np.max(np.abs(np.linalg.eigvals(block)))


def measure(spec, steps=50, input_size=4, hidden_size=16, max_norm=1.0, seed=0):
    """One model's Flow. The same seed gives every model the same input sequence."""
    kind, options = parse_spec(spec)
    for value, what in ((steps, "steps"), (input_size, "input_size"), (hidden_size, "hidden_size")):
        check_size(value, what, "gradient_flow")
    rng.manual_seed(seed)
    x = rng.generator().standard_normal((steps, 1, input_size))
    layer = _layer(kind, input_size, hidden_size)
    head = nn.Linear(hidden_size, 1, dtype=np.float64)
    if "rho" in options:
        _set_radius(layer.weight_hh_l0, options["rho"])
    gate_bias = options.get("forget_bias", options.get("update_bias"))
    if gate_bias is not None:                 # LSTM gates i, f, g, o and GRU gates r, z, n: block 1
        layer.bias_hh_l0.data[hidden_size:2 * hidden_size] += gate_bias
    with np.errstate(all="ignore"):                         # an exploding relu-RNN may overflow: we report it
        _, h_n = layer(x)
        h_T = (h_n[0] if kind == "lstm" else h_n)[0]
        loss = ((head(h_T) - 1.0) ** 2).sum() * 0.5

        outputs = {out.name: out for _, out in tape.recorded(loss)}
        wanted = [f"{v}_{t}" for v in ("h", "c")[:2 if kind == "lstm" else 1] for t in range(1, steps + 1)]
        missing = [n for n in wanted if n not in outputs]
        if missing:                           # the states are found by the names tinygrad_rnn.rnn gives them
            raise RuntimeError(f"gradient_flow: the {kind} layer's graph has no tensors named {missing[:3]}...")
        hs = [outputs[f"h_{t}"] for t in range(1, steps + 1)]
        cs = [outputs[f"c_{t}"] for t in range(1, steps + 1)] if kind == "lstm" else None
        w_hh = layer.weight_hh_l0               # an input of the linear op at every step: one edge per step

        # one backward walk (it *is* loss.backward(retain_graph=True)), observed on the way
        state_sq = np.zeros(steps)
        terms = np.zeros(steps)
        at = {id(h.node): t for t, h in enumerate(hs)}
        at.update({id(c.node): t for t, c in enumerate(cs or [])})
        for step in tape.walk(loss, np.ones_like(loss.data), retain_graph=True, keep_grads=False):
            t = at.get(id(step.node))
            if t is not None:
                state_sq[t] += np.sum(np.square(step.grad))
            for inp, c in zip(step.node.inputs, step.input_grads):
                if inp is w_hh and c is not None:
                    terms[step_of(step.node) - 1] = np.linalg.norm(c)

        steps_back = _one_step_jacobians(kind, layer, x, hs, cs)
        jacobians = _products(steps_back)
        params = layer.parameters() + head.parameters()
        grad_norm = clip_grad_norm(params, max_norm, eps=0.0)
    scale = min(1.0, max_norm / grad_norm) if np.isfinite(grad_norm) and grad_norm > 0 else 1.0
    return Flow(label_of(spec), spec, steps, float(loss.item()), np.sqrt(state_sq), jacobians[-1].copy(), terms,
                grad_norm, max_norm, scale, jacobians)


def cell_of(kind, layer):
    """The one-step cell of a one-layer `layer`, sharing its weights (the layer's step, as a function)."""
    cls = {"lstm": rnn_layers.LSTMCell, "gru": rnn_layers.GRUCell}.get(kind, rnn_layers.RNNCell)
    extra = {"nonlinearity": layer.nonlinearity} if cls is rnn_layers.RNNCell else {}
    cell = cls(layer.input_size, layer.hidden_size, dtype=layer.weight_hh_l0.dtype, name="step", **extra)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(cell, name, getattr(layer, f"{name}_l0"))
    return cell


def _one_step_jacobians(kind, layer, x, hs, cs):
    """J[k-1] = ds_k/ds_{k-1} for k = 2..T (J[0] unused: s_0 is no state of the picture), as (S, S) matrices
    with S the state's size (2H for the LSTM: rows and columns h then c). The cell runs once more on fresh leaves
    holding s_{k-1}, so h_{k-1} and c_{k-1} are independent inputs: the LSTM's c_{k-1} -> h_{k-1} path (made
    at step k-1) is not part of ds_k/ds_{k-1}."""
    cell = cell_of(kind, layer)
    size = hs[0].data.size * (2 if cs else 1)
    blocks = [np.eye(size)]
    for k in range(1, len(hs)):
        if cs:
            step = lambda h, c, k=k: concat(list(cell(x[k], (h, c))), axis=-1)
            parts = jacobian(step, [hs[k - 1].data, cs[k - 1].data])
        else:
            parts = (jacobian(lambda h, k=k: cell(x[k], h), hs[k - 1].data),)
        blocks.append(np.concatenate([p.reshape(size, -1) for p in parts], axis=1))
    return blocks


def _products(blocks):
    """[t-1, k-1] = ||J_t ... J_{k+1}|| (largest singular value) for t >= k, 1 on the diagonal, NaN above."""
    T = len(blocks)
    out = np.full((T, T), np.nan)
    for k in range(T):
        product = np.eye(blocks[0].shape[0])
        out[k, k] = 1.0
        for t in range(k + 1, T):
            product = blocks[t] @ product
            out[t, k] = _spectral(product)
    return out


def _spectral(matrix):
    if not np.all(np.isfinite(matrix)):
        return np.inf
    return float(np.linalg.norm(matrix, 2))


def gradient_flow(steps=50, models=DEFAULT_MODELS, input_size=4, hidden_size=16, max_norm=1.0, seed=0):
    """A Flow per model spec ('tanh', 'relu', 'lstm', 'gru', with options as in parse_spec)."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"gradient_flow: steps must be a positive integer, got {steps!r}")
    if isinstance(models, str) or not isinstance(models, (list, tuple)) or not models:
        raise TypeError(f"gradient_flow: models must be a non-empty list of specs such as ['tanh', 'relu:rho=3'], "
                        f"got {models!r}")
    for spec in models:
        parse_spec(spec)
    return [measure(spec, steps, input_size, hidden_size, max_norm, seed) for spec in models]


def _columns(steps, count=5):
    """Time steps to show: T, round multiples below it, and 1 (50, 40, 30, 20, 10, 1)."""
    nice = next(n * 10 ** e for e in range(12) for n in (1, 2, 5) if n * 10 ** e * count >= steps)
    return sorted({steps, 1, *range(nice, steps, nice)}, reverse=True)


def format_table(flows):
    """The measurements as terminal tables."""
    T = flows[0].steps
    cols = _columns(T)
    width = max(len(f.label) for f in flows) + 2
    e = lambda v: f"{v:9.1e}"
    head = lambda what: f"{what:<{width}}" + "".join(f"{'t=' + str(t):>9}" for t in cols)
    lines = [(f"gradient flow over T={T} steps; E_T = 1/2 (h_T w + b - 1)^2 reads only the last state "
             f"(LSTM state s_t = (h_t, c_t))"), "",
             "‖∂E_T/∂s_t‖: the gradient reaching the state at step t", head("")]
    lines += [f"{f.label:<{width}}" + "".join(e(f.state_grad[t - 1]) for t in cols) for f in flows]
    lines += ["", "‖∂s_T/∂s_k‖ (largest singular value): the product of the T-k one-step Jacobians of the full state",
              f"{'':<{width}}" + "".join(f"{'k=' + str(t):>9}" for t in cols)]
    lines += [f"{f.label:<{width}}" + "".join(e(f.jacobian[t - 1]) for t in cols) for f in flows]
    lines += ["", (f"‖term of ∂E_T/∂W_hh from step t‖, without -> with clipping (clip_grad_norm, max_norm="
              f"{flows[0].max_norm:g})"), head("") + f"{'‖.grad‖':>11}{'clipped':>10}"]
    for f in flows:
        lines.append(f"{f.label:<{width}}" + "".join(e(f.w_hh_terms[t - 1]) for t in cols)
                     + f"{f.grad_norm:11.2e}{f.clipped_norm:10.2e}")
        if f.clip_scale < 1:
            lines.append(f"{'  clipped':<{width}}" + "".join(e(f.clipped_terms[t - 1]) for t in cols)
                         + f"   (every gradient x {f.clip_scale:.2g})")
    lines += ["(W_hh's term at step t is built from s_{t-1}, and s_0 = 0, so the t=1 term is zero. Clipping",
              " scales every term alike: it tames an explosion but cannot bring back a vanished term.)"]
    if any(f.spec.split(":")[0] in ("relu", "irnn") for f in flows):
        lines += [""] + textwrap.wrap(RELU_NOTE, 110)
    return "\n".join(lines)


RELU_NOTE = ("relu's derivative is 1 where a unit is on and 0 where it is off, so the activation no longer shrinks "
             "the gradient -- W_hh alone decides. At PyTorch's init (U(±1/sqrt(H)), spectral radius below 1) and with "
             "about half the units off at each step, a relu-RNN vanishes faster than tanh (T=50, H=16: "
             "‖∂E_T/∂s_1‖ 1e-22 against 1e-11); rescaled to rho=1 it still loses 1e-13, and rho=3 explodes (1e+22). "
             "relu helps given the right initialisation: with W_hh = I and zero biases (IRNN, Le et al. 2015) an "
             "active unit passes its gradient through unchanged, ‖∂s_T/∂s_1‖ = 1, and ‖∂E_T/∂s_1‖ stays at 0.32 "
             "against 0.61 at t=50.")
