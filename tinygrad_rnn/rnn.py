"""Recurrent cells and layers with PyTorch's names, shapes, gate order, formulas and default init.

Everything is composed of the core's primitive ops; backpropagation through time is nothing but the tape's
ordinary walk over the unrolled graph, in which each weight is used once per time step.

One `linear` op computes all gates, and each gate is sliced out inside its own scope, so a diagram shows
`forget_gate`, `input_gate`, ... as separate nodes. A layer computes the input projection of all T steps in
one op, linear(x (T, B, I), W_ih, b_ih), and slices out step t under the scope `<name>/layer<k>/t=<t>`
(t = 1..T, as in the seed). Each step applies linear(h_{t-1}, W_hh, b_hh, add=xW_t) to the weight itself (no
transpose node shared by the steps), so W_hh has one edge per time step, carrying that step's term of its
gradient; the step's input projection xW_t is added inside that op (as PyTorch's addmm), not by a node of its
own. (The numpy products use one contiguous copy of W_hh^T per unroll, `ops.transposed_once`: not a node.)
Tensors are named h_1, c_1, f_1, ... so diagrams can label them; layer l >= 1 of a stack names them
h^(l)_1, c^(l)_1, ... (the first layer stays h_1, as the seed's s_t and its second layer's s'_t).

A hand-written loop over a cell, `h = cell(x[t], h)`, is a time-step loop too, with no extra code: see
`_Cell` for how a call knows its step. A layer given the state its own last call returned goes on at t = T+1
(`_Layer._continues`): chunks of a sequence carried on without a detach are one sequence on the tape.
"""
import contextlib
import functools
import math
import numbers
import warnings
import weakref

import numpy as np

from .core import mode, ops, rng, tape
from .core.functional import concat, linear, stack
from .nn import Module, as_tensor, check_size, uniform_parameter
from .core.mode import gc_paused, scope
from .core.tensor import Tensor
from .packing import PackedSequence, check_batch_sizes

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "detach_state"]

_NONLINEARITIES = ("tanh", "relu")


def _named(tensor, name):
    tensor.name = name
    return tensor


def tag(t, layer=0):
    """The suffix of a tensor made at step t of layer `layer`: '_3', or '^(1)_3' above the first layer."""
    return f"^({layer})_{t}" if layer else f"_{t}"


# ---- one time step: gx = x_t W_ih^T + b_ih is already computed -------------------------------------

def _rnn_step(gx, h, w_hh, b_hh, nonlinearity, n):
    pre = _named(linear(h, w_hh, b_hh, add=gx), f"a{n}")          # gx + h W_hh^T + b_hh: one op
    return _named(pre.tanh() if nonlinearity == "tanh" else pre.relu(), f"h{n}")


@functools.lru_cache(maxsize=64)
def _gates(G, H):
    """The indices of the G gates in a (..., G*H) array, x[..., k*H:(k+1)*H]: objects shared by every step."""
    return tuple((Ellipsis, slice(k * H, (k + 1) * H)) for k in range(G))


def _lstm_step(gx, h, c, w_hh, b_hh, n):
    at_i, at_f, at_g, at_o = _gates(4, h.shape[-1])
    gates = _named(linear(h, w_hh, b_hh, add=gx), f"gates{n}")  # (B, 4H) in PyTorch's order i, f, g, o
    with scope("forget_gate"):
        f = _named(gates[at_f].sigmoid(), f"f{n}")
    with scope("input_gate"):
        i = _named(gates[at_i].sigmoid(), f"i{n}")
    with scope("cell"):
        g = _named(gates[at_g].tanh(), f"g{n}")                         # the candidate cell values
        c = _named(f * c + i * g, f"c{n}")
    with scope("output_gate"):
        o = _named(gates[at_o].sigmoid(), f"o{n}")
    return _named(o * c.tanh(), f"h{n}"), c


def _gru_step(gx, h, w_hh, b_hh, n):
    at_r, at_z, at_n = _gates(3, h.shape[-1])
    gh = _named(linear(h, w_hh, b_hh), f"gh{n}")                  # h W_hh^T + b_hh for r, z, n at once
    with scope("reset_gate"):
        r = _named((gx[at_r] + gh[at_r]).sigmoid(), f"r{n}")
    with scope("update_gate"):
        z = _named((gx[at_z] + gh[at_z]).sigmoid(), f"z{n}")
    with scope("candidate"):                                       # the reset gate scales only W_hn h + b_hn
        cand = _named((gx[at_n] + r * gh[at_n]).tanh(), f"n{n}")
    return _named((1 - z) * cand + z * h, f"h{n}")


_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _check_nonlinearity(nonlinearity, owner):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


def _zeros(shape, like, name):
    return Tensor(np.zeros(shape, dtype=like.dtype), name=name)


def _state(value, shape, owner, what, like, name, form=None, unbatched=None):
    """A given state (`what` in messages) checked against `shape`, or zeros of that shape when it is None,
    named `name` (h_0, c^(1)_0) unless the caller named it. The caller's unnamed constant keeps no name: the
    step reads a named view of it, so one zeros tensor given as both h and c is drawn as h_0 and c_0."""
    if value is None:
        return _zeros(shape, like, name)
    if _holds_arrays(value):
        pair = "" if owner.startswith("LSTM") else "; only an LSTM's state is a pair (h, c)"
        raise TypeError(f"{owner}: {what} must be one Tensor of shape {_form(shape, form, unbatched)}, got a "
                        f"{type(value).__name__} of {len(value)}{pair}")
    value = as_tensor(value, owner, what, name)
    if value.shape != shape:
        raise ValueError(f"{owner}: {what} must have shape {_form(shape, form, unbatched)}, got {value.shape}")
    if value.name is None and value.node is None:      # an unnamed leaf: h_0, not const
        if not value.requires_grad:
            return _named(Tensor._result(value.data, None), name)
        value.name = name                              # a learned initial state: the gradient must reach it
    return value


def _form(shape, form, unbatched):
    """A state's shape as an error names it: "(B, H) = (2, 3)", "(H,) = (3,) for an unbatched input"."""
    unbatched = len(shape) == 1 if unbatched is None else unbatched
    return f"{form or ('(H,)' if unbatched else '(B, H)')} = {shape}" + (" for an unbatched input" if unbatched else "")


def _holds_arrays(value):
    """Is `value` a tuple or list of Tensors or arrays (several states), rather than one state's numbers?"""
    return isinstance(value, (tuple, list)) and any(isinstance(v, (Tensor, np.ndarray)) for v in value)


# ---- cells ---------------------------------------------------------------------------------------

_made_by_cell = weakref.WeakKeyDictionary()     # state tensor -> (the cell that made it, its step, its layer)
_made_by_layer = weakref.WeakKeyDictionary()    # h_n -> (the layer that returned it, its last step, its c_n)


def _step_in_scope():
    """The k of a `t=<k>` the caller already opened (`with tg.scope(f"t={k}")`), or None."""
    found = mode.time_step(mode.state.scope)
    return None if found is None else found[0]


_CELL_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _name_as_layer(cell, layer):
    """A cell found to be layer `layer` of a stack names its weights as a layer's (weight_ih_l1), unless they
    carry another name than the bare attribute's (a parent Module's path such as 'enc.weight_ih')."""
    for key in _CELL_WEIGHTS:
        weight = getattr(cell, key, None) if cell is not None else None
        if weight is not None and weight.name == key:
            weight.name = f"{key}_l{layer}"


class _Cell(Module):
    """A cell called in a loop records each call as a time step, with no extra code from the caller.

    `h = cell(x_t, h)`: the step is read from the state argument. A state this same cell returned at step k
    makes this call step k+1; any other state (None, zeros, a detached state) starts a new sequence at t=1.
    The call runs in the scope `<cell name>/t=<k>` (viz draws and elides it like a layer's step) and names
    what it makes with the step: h_k, a_k (RNN), c_k, f_k, i_k, g_k, o_k (LSTM), r_k, z_k, n_k (GRU), and a
    numpy x becomes the tensor x_k. When x was made by another cell (a stack of cells), this cell is one layer
    above it: scope `<cell name>/layer<l>/t=<k>`, names h^(l)_k, and both cells' weights are named as a
    layer's (weight_ih_l0, weight_ih_l1, as tg.RNN's) unless a parent Module named them.

    Why detection rather than an explicit `unroll(cell, xs, h0)`: the first exercise of a lab is the loop
    written by hand, and it should read like the seed's equations without ceremony; the state argument
    already says which step comes next. A caller that opened `t=<k>` itself keeps its own numbering.
    """
    kind = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, name=None):
        owner = type(self).__name__
        self.input_size = check_size(input_size, "input_size", owner)
        self.hidden_size = check_size(hidden_size, "hidden_size", owner)
        self.name = name or f"{self.kind}_cell"
        G, H, bound = _GATES[self.kind], self.hidden_size, 1 / math.sqrt(self.hidden_size)
        self.weight_ih = uniform_parameter((G * H, self.input_size), bound, dtype)
        self.weight_hh = uniform_parameter((G * H, H), bound, dtype)
        self.bias_ih = uniform_parameter((G * H,), bound, dtype) if bias else None
        self.bias_hh = uniform_parameter((G * H,), bound, dtype) if bias else None

    def _input(self, x):
        x = as_tensor(x, type(self).__name__, "x", "")       # named x_k by _step
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: x must have shape (B, input_size) = (B, {self.input_size}) "
                             f"or ({self.input_size},), got {x.shape}")
        return x, x.shape[:-1] + (self.hidden_size,)

    def _gx(self, x, tag):
        return _named(linear(x, self.weight_ih, self.bias_ih), f"xW{tag}")

    def _step(self, x, state):
        """(step k, layer, scope to open) of this call, and x named x_k when the caller gave no name."""
        made = _made_by_cell.get(state) if isinstance(state, Tensor) else None
        k = made[1] + 1 if made is not None and made[0]() is self else 1
        below = _made_by_cell.get(x)
        layer = below[2] + 1 if below is not None and below[0]() is not self else 0
        if layer:
            _name_as_layer(below[0](), layer - 1)
            _name_as_layer(self, layer)
        given = _step_in_scope()
        k = given if given is not None else k
        if x.name is None and x.node is None:
            x.name = f"x{tag(k, layer)}"
        where = self.name + (f"/layer{layer}" if layer else "") + ("" if given is not None else f"/t={k}")
        return k, layer, where

    def _made(self, state, k, layer):
        me = weakref.ref(self)
        for t in (state if isinstance(state, tuple) else (state,)):
            _made_by_cell[t] = (me, k, layer)
        return state

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh). Call: cell(x, h=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None, name=None):
        self.nonlinearity = _check_nonlinearity(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias, dtype, name)

    def forward(self, x, h=None):
        x, shape = self._input(x)
        k, layer, where = self._step(x, h)
        h = _state(h, shape, "RNNCell", "h", self.weight_hh, f"h{tag(k - 1, layer)}")
        with scope(where):
            n = tag(k, layer)
            return self._made(_rnn_step(self._gx(x, n), h, self.weight_hh, self.bias_hh, self.nonlinearity, n),
                              k, layer)


class LSTMCell(_Cell):
    """PyTorch's LSTMCell: gates i, f, g, o; c' = f*c + i*g; h' = o*tanh(c'). Call: cell(x, (h, c)) -> (h', c')."""
    kind = "lstm"

    def forward(self, x, hx=None):
        x, shape = self._input(x)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: the state must be a pair (h, c), got {type(hx).__name__}")
        h, c = hx if hx is not None else (None, None)
        k, layer, where = self._step(x, h)
        h = _state(h, shape, "LSTMCell", "h", self.weight_hh, f"h{tag(k - 1, layer)}")
        c = _state(c, shape, "LSTMCell", "c", self.weight_hh, f"c{tag(k - 1, layer)}")
        with scope(where):
            n = tag(k, layer)
            return self._made(_lstm_step(self._gx(x, n), h, c, self.weight_hh, self.bias_hh, n), k, layer)


class GRUCell(_Cell):
    """PyTorch's GRUCell: gates r, z, n; n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); h' = (1-z)*n + z*h."""
    kind = "gru"

    def forward(self, x, h=None):
        x, shape = self._input(x)
        k, layer, where = self._step(x, h)
        h = _state(h, shape, "GRUCell", "h", self.weight_hh, f"h{tag(k - 1, layer)}")
        with scope(where):
            n = tag(k, layer)
            return self._made(_gru_step(self._gx(x, n), h, self.weight_hh, self.bias_hh, n), k, layer)


# ---- layers --------------------------------------------------------------------------------------

class _Layer(Module):
    """A stack of num_layers recurrent layers, each one or two directions (bidirectional=True, as torch).

    Scopes: `<name>/layer<k>/t=<t>` for the forward direction, `<name>/layer<k>_reverse/t=<t>` for the
    reverse one, which reads the input from t = T down to 1 (its step t reads x_t, so both directions' step t
    line up in a diagram). A layer's output is the forward h_t, or [forward h_t, reverse h_t] (T, B, 2H).
    In training mode with dropout = p > 0, each layer's output but the last is multiplied by a mask of
    0 and 1/(1-p) drawn from tg's generator (tg.manual_seed): the constant `mask` times the output in the
    scope `<name>/layer<k>/dropout`, drawn as such a node.
    """
    kind = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None, name=None, proj_size=0):
        owner = type(self).__name__
        self.input_size = check_size(input_size, "input_size", owner)
        self.hidden_size = check_size(hidden_size, "hidden_size", owner)
        self.num_layers = check_size(num_layers, "num_layers", owner)
        _check_proj_size(proj_size, self.kind, owner)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = _check_dropout(dropout, self.num_layers, owner)
        self.name = name or self.kind
        G, H, bound = _GATES[self.kind], self.hidden_size, 1 / math.sqrt(self.hidden_size)
        for k in range(self.num_layers):                # PyTorch's names: weight_ih_l0, ..., weight_ih_l0_reverse
            inputs = self.input_size if k == 0 else H * self.directions
            for sfx in _SUFFIXES[:self.directions]:
                setattr(self, f"weight_ih_l{k}{sfx}", uniform_parameter((G * H, inputs), bound, dtype))
                setattr(self, f"weight_hh_l{k}{sfx}", uniform_parameter((G * H, H), bound, dtype))
                if bias:
                    setattr(self, f"bias_ih_l{k}{sfx}", uniform_parameter((G * H,), bound, dtype))
                    setattr(self, f"bias_hh_l{k}{sfx}", uniform_parameter((G * H,), bound, dtype))

    @property
    def directions(self):
        return 2 if self.bidirectional else 1

    def _weights(self, k, sfx=""):
        return tuple(getattr(self, f"{n}_l{k}{sfx}", None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _initial(self, value, lead, what, last=0):
        """Per-(layer, direction) initial states from a (num_layers * directions, B, H) tensor, or zeros; named
        as the states of step `last` (h_0, or h_3 when this call continues a call that ended at t=3)."""
        count = self.num_layers * self.directions
        shape = (count, *lead, self.hidden_size)
        if value is None:
            return [_zeros(shape[1:], self.weight_hh_l0, f"{what}{tag(0, j // self.directions)}") for j in range(count)]
        layers = "num_layers * 2" if self.bidirectional else "num_layers"
        form = f"({layers}, B, H)" if lead else f"({layers}, H)"
        value = _state(value, shape, type(self).__name__, f"{what}_0", self.weight_hh_l0, f"{what}_0", form, not lead)
        with scope(self.name):
            return [_named(value[j], f"{what}{tag(last, j // self.directions)}") for j in range(count)]

    def forward(self, input, hx=None):
        with gc_paused():                               # a long unroll records many nodes and makes no cycles
            return self._unroll(input, hx)

    def _unroll(self, input, hx):
        packed = input if isinstance(input, PackedSequence) else None
        x, batched_first = (self._packed(packed), False) if packed else self._padded(input)
        lead = (int(packed.batch_sizes[0]),) if packed else x.shape[1:-1]
        if self.kind == "lstm":
            if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"LSTM: the initial state must be a pair (h_0, c_0), got {type(hx).__name__}")
            last = self._continues(*hx) if hx is not None else 0
            h0s = self._initial(None if hx is None else hx[0], lead, "h", last)
            c0s = self._initial(None if hx is None else hx[1], lead, "c", last)
        else:
            last = self._continues(hx)
            h0s, c0s = self._initial(hx, lead, "h", last), [None] * (self.num_layers * self.directions)
        if packed and packed.sorted_indices is not None and hx is not None:   # a given state is in batch order
            h0s, c0s = ([_cut(s, packed.sorted_indices) for s in states] for states in (h0s, c0s))
        sizes = None if packed is None else np.asarray(packed.batch_sizes)
        h_n, c_n = [], []
        for k in range(self.num_layers):
            outputs = []
            for d, sfx in enumerate(_SUFFIXES[:self.directions]):
                j = k * self.directions + d             # torch's order in h_n: layer 0 forward, layer 0 reverse, ...
                hs, h, c = self._direction(x, k, sfx, h0s[j], c0s[j], sizes, last)
                outputs.append(hs)
                h_n.append(h)
                c_n.append(c)
            with scope(f"{self.name}/layer{k}"):
                x = concat(outputs, axis=-1) if len(outputs) > 1 else outputs[0]
                if k < self.num_layers - 1 and self.training and self.dropout > 0:
                    x = _dropout(x, self.dropout)
        with scope(self.name):
            finals = [_named(_in_batch_order(stack(s, axis=0), packed), n) for s, n in ((h_n, "h_n"), (c_n, "c_n"))
                      if s[0] is not None]
            output = _named(x.transpose(0, 1) if batched_first else x, "output")
        if sizes is None:                               # a packed batch's sequences end at different steps
            c_n = weakref.ref(finals[1]) if len(finals) > 1 else None
            _made_by_layer[finals[0]] = (weakref.ref(self), last + x.shape[0], c_n)
        if packed:
            output = packed._replace(data=output)
        return (output, tuple(finals)) if self.kind == "lstm" else (output, finals[0])

    def _continues(self, h, c=None):
        """The last step of the call of this layer that returned `h` (and for an LSTM `c`: its h_n and c_n, still
        on the tape), else 0: a second call given the first one's state, not detached, goes on at t = T+1, as
        one longer sequence. Not for a bidirectional layer: its reverse direction would not go on."""
        made = _made_by_layer.get(h) if isinstance(h, Tensor) and h.node is not None else None
        if made is None or made[0]() is not self or self.bidirectional:
            return 0
        own_c = made[2]() if made[2] is not None else None
        return made[1] if own_c is c else 0

    def _padded(self, input):
        """The input as a (T, B, I) or (T, I) tensor, and whether it came batch first."""
        owner = type(self).__name__
        x = as_tensor(input, owner, "input", "x")
        form = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
        batched_first = self.batch_first and x.ndim == 3
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size or x.shape[int(batched_first)] == 0:
            raise ValueError(f"{owner}: input must have shape {form} with input_size={self.input_size} and at "
                             f"least one time step (or (T, input_size) unbatched), got {x.shape}")
        return (x.transpose(0, 1), True) if batched_first else (x, False)    # (B, T, I) -> (T, B, I)

    def _packed(self, packed):
        x, sizes = packed.data, np.asarray(packed.batch_sizes)
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: a PackedSequence's data must have shape (sum of lengths, "
                             f"input_size={self.input_size}), got {getattr(x, 'shape', type(x).__name__)}")
        check_batch_sizes(sizes, x.shape[0], type(self).__name__)
        return x

    def _direction(self, x, k, sfx, h, c, sizes=None, last=0):
        """One direction of layer k over x (T, B, I): (its outputs stacked in time order (T, B, H), h_T, c_T).
        Its steps are t = last+1 .. last+T (a call that continues another, see _continues); the reverse
        direction (sfx '_reverse') runs them from the last down. With `sizes` (a PackedSequence's batch_sizes),
        x is packed data and the i-th step computes the first sizes[i] sequences only."""
        w_ih, w_hh, b_ih, b_hh = self._weights(k, sfx)
        T = x.shape[0] if sizes is None else len(sizes)
        times = range(last + T, last, -1) if sfx else range(last + 1, last + T + 1)
        starts = None if sizes is None else np.concatenate([[0], np.cumsum(sizes)])
        h0, c0, done = h, c, []
        if sizes is not None and sfx:                   # the reverse direction starts each sequence at its end
            h = c = None
        layer = scope(f"{self.name}/layer{k}{sfx}")
        with layer:
            gx_all = linear(x, w_ih, b_ih)              # input projection of all T steps: one op
        with layer, ops.transposed_once(w_hh.data), _quiet_sigmoids(self.kind, w_hh.dtype):
            hs, rows = [None] * T, None
            for t in times:
                i = t - last - 1                        # the step's row of x
                with scope(f"t={t}"):
                    n = tag(t, k)
                    if sizes is None:
                        gx = gx_all[i]
                    else:                               # only the sequences at least i + 1 long
                        gx = gx_all[int(starts[i]):int(starts[i + 1])]
                        h, c = _resized(h, c, int(sizes[i]), h0, c0, done)
                    h, c = self._step(_named(gx, f"xW{n}"), h, c, w_hh, b_hh, n)
                if sizes is None and h.node is not None:    # the states the graph saves live in one array,
                    rows = np.empty((T,) + h.shape, h.dtype) if rows is None else rows       # the output
                    tape.move_value(h, rows[i])                  # stacking the rows: no copy
                hs[i] = h
            if sizes is None:
                if rows is not None:                    # values the graph saved: an edit of the output fails
                    rows.flags.writeable = False
                return stack(hs, axis=0), h, c
            if done:                                    # the forward direction's ended sequences, longest first
                h, c = (concat([s, *[d[i] for d in reversed(done)]]) if s is not None else None
                        for i, s in enumerate((h, c)))
            return concat(hs, axis=0), h, c

    def extra_repr(self):
        extra = f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        extra += ", bias=False" if not self.bias else ""
        extra += ", batch_first=True" if self.batch_first else ""
        extra += f", dropout={self.dropout}" if self.dropout else ""
        extra += ", bidirectional=True" if self.bidirectional else ""
        return f"{self.input_size}, {self.hidden_size}{extra}"


_SUFFIXES = ("", "_reverse")                         # torch's parameter names for the two directions


def _quiet_sigmoids(kind, dtype):
    """numpy's overflow setting entered once for an LSTM's or GRU's time steps, not once per sigmoid (see
    ops.exp_overflow_quiet); a plain RNN has no sigmoid, and float16 states overflow too easily to silence."""
    return ops.exp_overflow_quiet() if kind != "rnn" and dtype.itemsize >= 4 else contextlib.nullcontext()


def _cut(state, rows):
    return None if state is None else state[rows]


def _resized(h, c, rows, h0, c0, done):
    """The states of the first `rows` sequences: fewer than before (the forward direction: the rest ended, their
    states go to `done`), or more (the reverse direction: longer sequences start, from their initial state)."""
    have = 0 if h is None else h.shape[0]
    if rows < have:
        done.append((h[rows:], _cut(c, slice(rows, None))))
        return h[:rows], _cut(c, slice(None, rows))
    if rows > have:
        return tuple(_grown(s, s0, have, rows) for s, s0 in ((h, h0), (c, c0)))
    return h, c


def _grown(state, initial, have, rows):
    if initial is None:
        return None
    if not have:
        return initial if rows == initial.shape[0] else initial[:rows]
    return concat([state, initial[have:rows]])


def _in_batch_order(states, packed):
    """(L*D, B, H) final states back in the caller's batch order when a PackedSequence sorted the batch."""
    if packed is None or packed.unsorted_indices is None:
        return states
    return states[:, packed.unsorted_indices]


def _check_dropout(p, num_layers, owner):
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{owner}: dropout must be a number in [0, 1], the probability of zeroing an element "
                         f"of a layer's output, got {p!r}")
    if p > 0 and num_layers == 1:
        warnings.warn(f"{owner}: dropout={p} acts between layers, so with num_layers=1 it changes nothing "
                      f"(as in torch)", UserWarning, stacklevel=3)
    return float(p)


def _check_proj_size(proj_size, kind, owner):
    """torch's proj_size: 0, its default (no projection of h), is the only value these layers take."""
    check_size(proj_size, "proj_size", owner, minimum=0)
    if proj_size and kind != "lstm":
        raise ValueError(f"{owner}: proj_size={proj_size}: a projection of h exists only for an LSTM (as in torch)")
    if proj_size:
        raise NotImplementedError(f"{owner}: proj_size={proj_size} (torch's LSTM with projections, weight_hr_l<k>) "
                                  f"is not supported here; leave proj_size=0")


def _dropout(x, p):
    """x * mask, mask = 0 with probability p, else 1/(1-p) (an expectation-preserving dropout), under the scope
    `dropout`; the mask is a constant Tensor named `mask` drawn from tg's generator."""
    draws = rng.generator().random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    mask = _named(Tensor._result(np.multiply(draws >= p, scale, dtype=x.dtype), None), "mask")   # no copy
    with scope("dropout"):
        return _named(x * mask, "dropout")


class RNN(_Layer):
    """Elman RNN as torch.nn.RNN: h_t = nonlinearity(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    Call: rnn(input (T, B, I), h_0 (D * num_layers, B, H) = zeros) -> (output (T, B, D * H), h_n (D * num_layers,
    B, H)), D = 2 if bidirectional else 1.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None, name=None, proj_size=0):
        self.nonlinearity = _check_nonlinearity(nonlinearity, "RNN")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype, name,
                         proj_size)

    def _step(self, gx, h, c, w_hh, b_hh, n):
        return _rnn_step(gx, h, w_hh, b_hh, self.nonlinearity, n), None

    def extra_repr(self):
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(_Layer):
    """torch.nn.LSTM: call lstm(input, (h_0, c_0) = zeros) -> (output, (h_n, c_n))."""
    kind = "lstm"

    def _step(self, gx, h, c, w_hh, b_hh, n):
        return _lstm_step(gx, h, c, w_hh, b_hh, n)


class GRU(_Layer):
    """torch.nn.GRU: call gru(input, h_0 = zeros) -> (output, h_n)."""
    kind = "gru"

    def _step(self, gx, h, c, w_hh, b_hh, n):
        return _gru_step(gx, h, w_hh, b_hh, n), None


def detach_state(state):
    """Cut a hidden state (a Tensor or an LSTM pair) from the graph: the one line of truncated BPTT."""
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if state is not None and not isinstance(state, Tensor):
        raise TypeError(f"detach_state: expected a Tensor, a tuple (h, c) of them or None, got {type(state).__name__}")
    return None if state is None else state.detach()
