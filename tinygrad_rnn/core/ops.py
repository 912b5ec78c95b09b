"""The ops table: every primitive's forward and vector-Jacobian product side by side.

An op is a class used as a namespace (never instantiated), and everything the project knows about the op:
    forward(*arrays, **params) -> (output array, saved)     saved = what vjp needs
    vjp(g, saved, needs)       -> one gradient per input    (None where needs[i] is False)
plus how the stepper, the diagrams and the player show it (see `Op`). Broadcasting is undone in one place,
`unbroadcast`. Everything here is plain numpy: the backward never records nodes.

An op may also define `vjp_lean(g, saved, needs)`: the same gradients, some of them as a Lazy (a Scatter
or an Outer, below) that stands for the dense array. Only a walk nobody watches uses it
(`backward(keep_grads=False)`), and adds lazies up without building each one. Every op has `vjp_lean`
(its `vjp` unless it defines one); an op that defines one gets its `vjp` by making that dense.
"""
import contextlib
import math

import numpy as np

try:
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:                                      # numpy < 2.0 (pyproject allows numpy >= 1.26)
    from numpy.core.numeric import normalize_axis_tuple

from .lazy import Lazy, Outer, Scatter, as_array
from .mode import state

OPS = {}  # name -> op class, filled in as the classes below are defined (custom ops too)


class Op:
    """One op: forward and vjp, and how it is shown. The fields every op of the table defines:
    rule       the local derivative as plain text (the stepper, the player); the upstream gradient is ∂E/∂y
    latex      the same as LaTeX; the upstream gradient is written as the fraction ∂E/∂y
    symbol     the label of its vertex in a diagram ("×" for mul); its name when it has no symbol
    infix      how Python writes it between two operands ("*" for mul; the stepper's expressions), or None.
               A diagram writes an infix op with its symbol: "h × W"
    rowwise    the inputs whose row t alone makes row t of the output (matmul: its left input only); the
               diagrams fold a stack of per-step results that reaches the steps again only through these
    broadcasts the inputs broadcast against each other, so their gradients are summed back (`unbroadcast`)
    formula    per input, how its gradient is made from g = ∂E/∂(output), as numpy code where it can be (the
               player); a template with {a}, {b} (the inputs' names), {y} (the output's), {shape} (the input's),
               {index}, {axis}, {pos} (the input's position), {part} (pos + 1). The last one serves every further
               input (stack). 1-D operands of matmul and linear (np.outer) are the player's to handle
    contribution_latex  per input, the same as LaTeX (row vectors, as in the seed): {g} stands for the upstream
               gradient, {a} {b} for the inputs, {y} for the output; () where prose says it better
    kept       kept(saved) -> {input position or "out": array}: the forward's own arrays among what it saved for
               the vjp; readers of the graph (node.inputs) take these instead of computing them again
    """
    name = "op"
    rule = ""
    latex = ""
    symbol = "op"
    infix = None
    rowwise = ()
    broadcasts = False
    formula = ()
    contribution_latex = ()
    keeps_lazy = False   # True: vjp_lean's lazy is the same numbers, cheap to keep, so even a watched walk uses it

    def kept(saved):
        return {}

    def __init_subclass__(cls):
        OPS[cls.name] = cls
        if "symbol" not in vars(cls):
            cls.symbol = cls.name
        if "vjp_lean" not in vars(cls):
            cls.vjp_lean = cls.vjp


def _saved_inputs(saved):
    """kept: `saved` holds the inputs' arrays in argument order (None for an absent bias)."""
    return {k: a for k, a in enumerate(saved) if a is not None}


def _saved_input(saved):
    """kept: `saved` is the input's array."""
    return {0: saved}


def _saved_output(saved):
    """kept: `saved` is the output's array."""
    return {"out": saved}


def _saved_inputs_and_output(saved):
    """kept: `saved` is (a, b, output)."""
    return {0: saved[0], 1: saved[1], "out": saved[2]}


def _saved_output_first(saved):
    """kept: `saved` is (output, axis)."""
    return {"out": saved[0]}


def op_field(op, field):
    """`op`'s field (see `Op`); an op outside the table, which may define only forward and vjp, gets Op's
    default, and its name as its symbol."""
    return getattr(op, field, op.name if field == "symbol" else getattr(Op, field))


def unbroadcast(grad, shape, dtype):
    """Sum `grad` back to the shape (and dtype) of an input that was broadcast forward."""
    if grad.shape != shape:
        extra = grad.ndim - len(shape)                  # np.add.reduce: ndarray.sum without its Python wrapper
        if extra:
            grad = np.add.reduce(grad, axis=tuple(range(extra)))
        kept = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if kept:
            grad = np.add.reduce(grad, axis=kept, keepdims=True)
    return _cast(grad, dtype)


def _cast(x, dtype):
    """x in dtype, copied only when its dtype differs."""
    return x if x.dtype is dtype else x.astype(dtype, copy=False)


def _axes(axis, ndim):
    return tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)


def _expand(g, axes, keepdims):
    """Put back the reduced axes of g so that it broadcasts against the input again."""
    return g if keepdims else np.expand_dims(g, axes)


# ---- elementwise binary (full numpy broadcasting) ------------------------------------------------

class Add(Op):
    name, rule = "add", "d(a+b)/da = 1, d(a+b)/db = 1"
    latex = r"\frac{\partial(a+b)}{\partial a} = 1,\quad \frac{\partial(a+b)}{\partial b} = 1"
    symbol, infix, rowwise, broadcasts = "+", "+", (0, 1), True
    formula = ("g", "g")
    contribution_latex = ("{g}", "{g}")

    def forward(a, b):
        return a + b, (a.shape, a.dtype, b.shape, b.dtype)     # the backward needs no values

    def vjp(g, saved, needs):
        a_shape, a_dtype, b_shape, b_dtype = saved
        return (unbroadcast(g, a_shape, a_dtype) if needs[0] else None,
                unbroadcast(g, b_shape, b_dtype) if needs[1] else None)


class Sub(Op):
    name, rule = "sub", "d(a-b)/da = 1, d(a-b)/db = -1"
    latex = r"\frac{\partial(a-b)}{\partial a} = 1,\quad \frac{\partial(a-b)}{\partial b} = -1"
    symbol, infix, rowwise, broadcasts = "−", "-", (0, 1), True
    formula = ("g", "-g")
    contribution_latex = ("{g}", "-{g}")

    def forward(a, b):
        return a - b, (a.shape, a.dtype, b.shape, b.dtype)     # the backward needs no values

    def vjp(g, saved, needs):
        a_shape, a_dtype, b_shape, b_dtype = saved
        return (unbroadcast(g, a_shape, a_dtype) if needs[0] else None,
                unbroadcast(-g, b_shape, b_dtype) if needs[1] else None)


class Mul(Op):
    name, rule = "mul", "d(a*b)/da = b, d(a*b)/db = a"
    latex = r"\frac{\partial(ab)}{\partial a} = b,\quad \frac{\partial(ab)}{\partial b} = a"
    symbol, infix, rowwise, broadcasts = "×", "*", (0, 1), True
    formula = ("g * {b}", "g * {a}")
    contribution_latex = (r"{g} \odot {b}", r"{g} \odot {a}")

    kept = _saved_inputs
    def forward(a, b):
        return a * b, (a, b)

    def vjp(g, saved, needs):
        a, b = saved
        return (unbroadcast(g * b, a.shape, a.dtype) if needs[0] else None,
                unbroadcast(g * a, b.shape, b.dtype) if needs[1] else None)


class Div(Op):
    name, rule = "div", "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"
    latex = r"\frac{\partial(a/b)}{\partial a} = \frac{1}{b},\quad \frac{\partial(a/b)}{\partial b} = -\frac{a}{b^2}"
    symbol, infix, broadcasts = "÷", "/", True
    formula = ("g / {b}", "-g * {a} / {b}**2")
    contribution_latex = ("{g} / {b}", r"-{g} \odot {a} / {b}^2")

    kept = _saved_inputs_and_output
    def forward(a, b):
        out = a / b
        return out, (a, b, out)

    def vjp(g, saved, needs):
        a, b, out = saved
        return (unbroadcast(g / b, a.shape, a.dtype) if needs[0] else None,
                unbroadcast(-g * out / b, b.shape, b.dtype) if needs[1] else None)


class Pow(Op):
    name, rule = "pow", "d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a"
    latex = r"\frac{\partial a^b}{\partial a} = b\,a^{b-1},\quad \frac{\partial a^b}{\partial b} = a^b \ln a"
    symbol, infix, broadcasts = "^", "**", True
    formula = ("g * {b} * {a}**({b} - 1)", "g * {y} * np.log({a})")
    contribution_latex = (r"{g} \odot {b}\,{a}^{{b} - 1}", r"{g} \odot {y} \odot \ln {a}")

    kept = _saved_inputs_and_output
    def forward(a, b):
        out = a ** b
        return out, (a, b, out)

    def vjp(g, saved, needs):
        a, b, out = saved
        wide_a, wide_b = _cast(a, out.dtype), _cast(b, out.dtype)   # mixed dtypes: work in the wider one
        with np.errstate(divide="ignore", invalid="ignore"):
            return (unbroadcast(Pow._d_base(g, wide_a, wide_b), a.shape, a.dtype) if needs[0] else None,
                    unbroadcast(Pow._d_exponent(g, wide_a, wide_b, out), b.shape, b.dtype) if needs[1] else None)

    def _d_base(g, a, b):
        """g b a^(b-1), and 0 where b = 0 even at a = 0, inf or nan (torch's pow_backward_self)."""
        return np.where(b == 0, 0, g * b * a ** (b - 1))

    def _d_exponent(g, a, b, out):
        """g a^b ln a, and 0 where a = 0 and b >= 0 (torch's pow_backward_exponent): at a = 0, b < 0 it is
        inf * -inf = -inf, as in torch."""
        return np.where((a == 0) & (b >= 0), 0, g * (out * np.log(a)))


def _rows(x):
    """x as a matrix of its last axis: (..., k) -> (rows, k); rows are counted, as -1 cannot be when x is empty."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


class MatMul(Op):
    name, rule = "matmul", "C = A@B: ∂E/∂A = ∂E/∂C @ B^T, ∂E/∂B = A^T @ ∂E/∂C"
    latex = (r"C = AB:\quad \frac{\partial E}{\partial A} = \frac{\partial E}{\partial C}\,B^\top,\quad "
             r"\frac{\partial E}{\partial B} = A^\top \frac{\partial E}{\partial C}")
    symbol, infix, rowwise = "@", "@", (0,)
    formula = ("g @ {b}.T", "{a}.T @ g")
    contribution_latex = (r"{g}\,{b}^{\top}", r"{a}^{\top} {g}")

    keeps_lazy = True    # a weight's term at each step kept as its two factors, not a dense matrix per step
    kept = _saved_inputs
    def forward(a, b):
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"inner dimensions differ: {a.shape} @ {b.shape} needs the last axis of the "
                             "left to match the second-to-last axis of the right")
        if a.ndim > 2 and b.ndim == 2:                   # (..., n, k) @ (k, m) as one product over all rows
            return (_rows(a) @ b).reshape(a.shape[:-1] + b.shape[1:]), (a, b)
        return a @ b, (a, b)

    def vjp(g, saved, needs):
        ga, gb = MatMul.vjp_lean(g, saved, needs)
        return ga, gb.dense() if isinstance(gb, Lazy) else gb

    def vjp_lean(g, saved, needs):
        a, b = saved
        if b.ndim == 2:                                  # (..., n, k) @ (k, m): one product over all rows
            a2, g2 = (a, g) if a.ndim == 2 else (_rows(a), _rows(g))
            return ((g2 @ b.T).reshape(a.shape) if needs[0] else None,
                    Outer(a2, g2, b.dtype) if needs[1] else None)
        a2 = a[None] if a.ndim == 1 else a               # a vector is a 1-row matrix ...
        b2 = b[:, None] if b.ndim == 1 else b            # ... or a 1-column matrix
        g2 = g.reshape(np.matmul(a2[..., :1, :], b2[..., :, :1]).shape[:-2] + (a2.shape[-2], b2.shape[-1]))
        ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape, a2.dtype).reshape(a.shape) if needs[0] else None
        gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape, b2.dtype).reshape(b.shape) if needs[1] else None
        return ga, gb


class Linear(Op):
    """y = x W^T + b (torch.nn.functional.linear) for x (..., in), W (out, in), b (out,) or no b; with a fourth
    input r of y's shape, y = x W^T + b + r (PyTorch's addmm: the sum is made in the product's own buffer).

    One op instead of transpose, matmul and add: W itself is the input, so a weight used at every time step
    has one edge per step, and the diagrams show each step's contribution on the weight. A recurrent layer
    passes the step's input projection as r: gates = x_t W_ih^T + b_ih + h W_hh^T + b_hh is one node."""
    name = "linear"
    rule = ("y = x W^T + b (+ r): ∂E/∂x = ∂E/∂y @ W, ∂E/∂W = (∂E/∂y)^T @ x (summed over all leading dims of x), "
            "∂E/∂b = ∂E/∂y summed over the leading dims, ∂E/∂r = ∂E/∂y")
    latex = (r"\frac{\partial E}{\partial x} = \frac{\partial E}{\partial y}\,W,\quad "
             r"\frac{\partial E}{\partial W} = \sum_{\text{rows}} \Big(\frac{\partial E}{\partial y}\Big)^{\top} x,\quad "
             r"\frac{\partial E}{\partial b} = \sum_{\text{rows}} \frac{\partial E}{\partial y},\quad "
             r"\frac{\partial E}{\partial r} = \frac{\partial E}{\partial y}")
    rowwise = (0,)
    formula = ("g @ {b}", "g.T @ {a}", "g.sum(axis=0)", "g")   # y = a bᵀ + bias + r
    contribution_latex = (r"{g}\,{b}", r"{g}^{\top} {a}", r"\sum_{\text{rows}} {g}", "{g}")

    keeps_lazy = True    # a weight's term at each step kept as its two factors, not a dense matrix per step
    kept = _saved_inputs
    def forward(x, w, b=None, r=None, contiguous_wt=False):
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear needs x (..., in) and W (out, in) with the same `in`, got x {x.shape} "
                             f"and W {w.shape}")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear needs a bias of shape (out,) = ({w.shape[0]},), got {b.shape}")
        if not contiguous_wt:
            wt = w.T
        else:                                            # as recorded inside transposed_once: the same bits again
            w_t = state.transposed
            wt = w_t[1] if w_t[0] is w else _contiguous_t(w)
        if x.ndim > 2:                                   # (..., in): one product over all rows
            y = (_rows(x) @ wt).reshape(x.shape[:-1] + (w.shape[0],))
        else:
            y = x @ wt
        if r is not None and r.shape != y.shape:
            raise ValueError(f"linear: the added term must have the output's shape {y.shape}, got {r.shape}")
        for term in (b, r):                              # y is ours: add bias and term in place
            if term is None:
                continue
            if term.dtype is y.dtype or np.result_type(y, term) == y.dtype:
                np.add(y, term, out=y)
            else:
                y = y + term
        return y, (x, w, b)

    def vjp(g, saved, needs):
        grads = Linear.vjp_lean(g, saved, needs)
        return tuple(c.dense() if isinstance(c, Lazy) else c for c in grads)

    def vjp_lean(g, saved, needs):
        x, w, b = saved
        x2, g2 = (x, g) if x.ndim == 2 else (_rows(x), _rows(g))
        gx = (g2 @ w).reshape(x.shape) if needs[0] else None
        gw = Outer(g2, x2, w.dtype) if needs[1] else None        # g2^T @ x2: a lean walk batches the steps
        if len(needs) == 2:
            return gx, gw
        gb = _cast(np.add.reduce(g2, axis=0), b.dtype) if needs[2] else None
        return (gx, gw, gb) if len(needs) == 3 else (gx, gw, gb, g if needs[3] else None)


@contextlib.contextmanager
def transposed_once(w):
    """Inside, linear(x, w, ...) multiplies by one contiguous copy of w^T, made here.

    BLAS computes x @ w^T with w as stored, (out, in), up to 2x slower than with a contiguous w^T when x has
    few rows, as one time step's batch does; a layer applies its W_hh T times. The product's last bits
    depend on the layout, so each such node records `contiguous_wt=True`: recomputed, it gives the same bits."""
    before, state.transposed = state.transposed, (w, _contiguous_t(w))
    try:
        yield
    finally:
        state.transposed = before


@contextlib.contextmanager
def exp_overflow_quiet():
    """Inside, numpy does not report overflow, and Sigmoid.forward enters no np.errstate of its own.

    An LSTM's or GRU's time steps run inside this (float32 and wider): entering np.errstate costs more than the
    four ufuncs of one small gate's sigmoid, and an LSTM step has three. The overflow a sigmoid expects (e^-x is
    inf below x = -88 in float32, and 1 / inf is the exact 0) is the only one their bounded states meet unless
    W_hh is near the float type's largest value. The input projection stays outside, and a plain RNN, whose
    states can explode, and float16 do not use this."""
    before, state.quiet_overflow = state.quiet_overflow, True      # this thread's, as np.errstate is
    try:
        with np.errstate(over="ignore"):
            yield
    finally:
        state.quiet_overflow = before


def _contiguous_t(w):
    """A C-contiguous copy of w^T, 64 rows at a time, which stay in cache: 3x faster than one strided copy."""
    wt = np.empty(w.shape[::-1], w.dtype)
    for i in range(0, w.shape[0], 64):
        wt[:, i:i + 64] = w[i:i + 64].T
    return wt


# ---- elementwise unary ---------------------------------------------------------------------------

class Neg(Op):
    name, rule, latex = "neg", "d(-x)/dx = -1", r"\frac{\partial(-x)}{\partial x} = -1"
    symbol, formula, contribution_latex = "−", ("-g",), ("-{g}",)

    def forward(x):
        return -x, None

    def vjp(g, saved, needs):
        return (-g,)


class Exp(Op):
    name, rule, latex = "exp", "d exp(x)/dx = exp(x)", r"\frac{\partial e^x}{\partial x} = e^x"
    formula, contribution_latex = ("g * {y}",), (r"{g} \odot {y}",)

    kept = _saved_output
    def forward(x):
        out = np.exp(x)
        return out, out

    def vjp(g, out, needs):
        return (g * out,)


class Log(Op):
    name, rule, latex = "log", "d ln(x)/dx = 1/x", r"\frac{\partial \ln x}{\partial x} = \frac{1}{x}"
    formula, contribution_latex = ("g / {a}",), ("{g} / {a}",)

    kept = _saved_input
    def forward(x):
        return np.log(x), x

    def vjp(g, x, needs):
        return (g / x,)


class Tanh(Op):
    name, rule = "tanh", "d tanh(x)/dx = 1 - tanh(x)^2"
    latex = r"\frac{\partial \tanh x}{\partial x} = 1 - \tanh^2 x"
    rowwise, formula = (0,), ("g * (1 - {y}**2)",)
    contribution_latex = (r"{g} \odot (1 - {y}^2)",)

    kept = _saved_output
    def forward(x):
        out = np.tanh(x)
        return out, out

    def vjp(g, out, needs):
        d = as_array(out * out)                            # 1 - tanh^2, then times g, in one buffer
        np.subtract(1, d, out=d)
        return (np.multiply(g, d, out=d),)


class Sigmoid(Op):
    name, rule = "sigmoid", "d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))"
    latex = r"\frac{\partial \sigma(x)}{\partial x} = \sigma(x)\,(1 - \sigma(x))"
    symbol, rowwise, formula = "σ", (0,), ("g * {y} * (1 - {y})",)
    contribution_latex = (r"{g} \odot {y} \odot (1 - {y})",)

    kept = _saved_output
    def forward(x):
        # 1 / (1 + e^-x), as PyTorch computes it; e^-x overflows to inf below x = -88 (float32), and 1 / inf is
        # the exact 0 there, so the overflow is expected and not reported. Four fast ufuncs, in one buffer.
        dtype = x.dtype if x.dtype.kind == "f" else np.result_type(x.dtype, np.float16)   # ints: a float type
        if x.dtype != dtype or dtype.itemsize < 4:       # float16's e^-x overflows from x = -11: compute in
            x = x.astype(dtype if dtype.itemsize >= 4 else np.float32)   # float32, round once, as torch does
        out = as_array(np.negative(x))                     # also a contiguous copy of a gate sliced from (B, 4H)
        if state.quiet_overflow:
            np.exp(out, out=out)
        else:
            with np.errstate(over="ignore"):
                np.exp(out, out=out)
        np.add(out, 1, out=out)
        out = _cast(np.reciprocal(out, out=out), dtype)
        return out, out

    def vjp(g, out, needs):
        d = as_array(1 - out)                              # sigmoid (1 - sigmoid), then times g, in one buffer
        np.multiply(d, out, out=d)
        return (np.multiply(g, d, out=d),)


class Relu(Op):
    name, rule = "relu", "d relu(x)/dx = 0 if x <= 0 else 1"
    latex = r"\frac{\partial\,\mathrm{relu}(x)}{\partial x} = [x > 0]"
    rowwise, formula = (0,), ("g * ({a} > 0)",)
    contribution_latex = (r"{g} \odot [{a} > 0]",)

    kept = _saved_output
    def forward(x):
        out = np.maximum(x, 0)
        return out, out

    def vjp(g, out, needs):                               # not (out <= 0): NaN passes g on, as in torch
        return (g * ~(out <= 0),)


class Softplus(Op):
    name, rule = "softplus", "d ln(1 + e^x)/dx = sigmoid(x)"
    latex = r"\frac{\partial \ln(1 + e^x)}{\partial x} = \sigma(x)"
    formula = ("g / (1 + np.exp(-{a}))",)
    contribution_latex = (r"{g} \odot \sigma({a})",)

    kept = _saved_input
    def forward(x):
        return np.logaddexp(0, x), x                     # log(1 + e^x) without overflow

    def vjp(g, x, needs):
        return (g * Sigmoid.forward(x)[0],)


# ---- reductions ----------------------------------------------------------------------------------

class Sum(Op):
    name, rule = "sum", "d sum(x)/dx_i = 1"
    latex = r"\frac{\partial \sum_j x_j}{\partial x_i} = 1"
    formula = ("g copied to every element of {a}",)
    contribution_latex = (r"{g}\ \text{copied to every element}",)

    def forward(x, axis=None, keepdims=False):
        axes = _axes(axis, x.ndim)
        return x.sum(axis=axes, keepdims=keepdims), (x.shape, axes, keepdims)

    def vjp(g, saved, needs):
        shape, axes, keepdims = saved
        return (np.broadcast_to(_expand(g, axes, keepdims), shape),)


class Mean(Op):
    name, rule = "mean", "d mean(x)/dx_i = 1/n"
    latex = r"\frac{\partial\,\frac{1}{n}\sum_j x_j}{\partial x_i} = \frac{1}{n}"
    formula = ("g / n copied to every element of {a}",)
    contribution_latex = (r"\tfrac{1}{n}\,{g}\ \text{copied to every element}",)

    def forward(x, axis=None, keepdims=False):
        axes = _axes(axis, x.ndim)
        n = int(np.prod([x.shape[i] for i in axes]))
        if n == 0:                                       # the mean of nothing: nan, as numpy, without its warning
            return x.sum(axis=axes, keepdims=keepdims) * np.nan, (x.shape, axes, keepdims, n)
        return x.mean(axis=axes, keepdims=keepdims), (x.shape, axes, keepdims, n)

    def vjp(g, saved, needs):
        shape, axes, keepdims, n = saved
        g = _expand(g, axes, keepdims)
        return (np.broadcast_to(g / n if n else np.zeros_like(g), shape),)   # n = 0: x and its gradient are empty


class Max(Op):
    name, rule = "max", "d max(x)/dx_i = 1 where x_i is the max (shared evenly between ties), else 0"
    latex = r"\frac{\partial \max_j x_j}{\partial x_i} = \frac{[x_i = \max]}{\#\text{ties}}"
    formula = ("g where {a} is largest, 0 elsewhere",)
    contribution_latex = (r"{g} \odot \frac{[{a} = \max]}{\#\text{ties}}",)

    def forward(x, axis=None, keepdims=False):
        axes = _axes(axis, x.ndim)
        top = x.max(axis=axes, keepdims=True)
        hit = x == top
        share = hit / hit.sum(axis=axes, keepdims=True)
        return (top if keepdims else top.squeeze(axes)), (share, axes, keepdims)

    def vjp(g, saved, needs):
        share, axes, keepdims = saved
        return ((_expand(g, axes, keepdims) * share).astype(g.dtype, copy=False),)


# ---- shape and indexing --------------------------------------------------------------------------

class Reshape(Op):
    name, rule = "reshape", "∂E/∂x = ∂E/∂y reshaped back"
    latex = r"\frac{\partial E}{\partial x} = \mathrm{reshape}\Big(\frac{\partial E}{\partial y}\Big)"
    formula = ("g.reshape{shape}",)
    contribution_latex = (r"\mathrm{reshape}({g})",)

    def forward(x, shape):
        return x.reshape(shape), x.shape

    def vjp(g, shape, needs):
        return (g.reshape(shape),)


class Transpose(Op):
    name, rule = "transpose", "∂E/∂x = ∂E/∂y transposed back"
    latex = r"\frac{\partial E}{\partial x} = \Big(\frac{\partial E}{\partial y}\Big)^{\top}"
    symbol, formula, contribution_latex = "ᵀ", ("g transposed back",), (r"{g}^{\top}",)

    def forward(x, axes=None):
        axes = tuple(reversed(range(x.ndim))) if axes is None else normalize_axis_tuple(axes, x.ndim)
        return x.transpose(axes), axes

    def vjp(g, axes, needs):
        return (g.transpose(np.argsort(axes)),)


_BASIC = (slice, int, np.integer, type(None), type(Ellipsis))
PLAIN_INDEX_TYPES = frozenset({slice, int, type(None), type(Ellipsis)})   # exactly these types: basic, at once


def _is_basic(index):
    """Slices, integers, None and ... only: then x[index] is a view and its positions are distinct."""
    for p in index if type(index) is tuple else (index,):
        if type(p) not in PLAIN_INDEX_TYPES and (not isinstance(p, _BASIC) or isinstance(p, bool)):
            return False                                 # x[True] is a mask, not a position
    return True


def index_text(index):
    """x[index] as written: (Ellipsis, slice(3, 6)) -> '..., 3:6'."""
    parts = index if isinstance(index, tuple) else (index,)

    def one(p):
        if p is Ellipsis:
            return "..."
        if isinstance(p, slice):
            text = f"{'' if p.start is None else p.start}:{'' if p.stop is None else p.stop}"
            return text + (f":{p.step}" if p.step is not None else "")
        if p is None:
            return "None"
        if isinstance(p, (int, np.integer)):
            return str(int(p))
        return "[...]"
    return ", ".join(one(p) for p in parts)



class GetItem(Op):
    name, rule = "getitem", "∂E/∂y scattered back to the selected positions of ∂E/∂x (repeats add up)"
    latex = r"\frac{\partial E}{\partial x}[\mathrm{idx}] \mathrel{+=} \frac{\partial E}{\partial y}"
    formula = ("out = np.zeros({shape}); out[{index}] += g; out",)   # an index array: the player's np.add.at
    contribution_latex = (r"{g}\ \text{put back at the selected positions, 0 elsewhere}",)
    keeps_lazy = True    # x[t] at every step: a dense gradient per step would cost T^2 memory

    def forward(x, index):
        return x[index], (x.shape, x.dtype, index, _is_basic(index))

    def vjp(g, saved, needs):
        return (GetItem.vjp_lean(g, saved, needs)[0].dense(),)

    def vjp_lean(g, saved, needs):
        shape, dtype, index, basic = saved
        return (Scatter(shape, dtype, index, g, basic),)


class Concat(Op):
    name, rule = "concat", "∂E/∂y split back into the pieces"
    latex = r"\frac{\partial E}{\partial x_k} = \frac{\partial E}{\partial y}[\text{part } k]"
    formula = ("piece {part} of g (the slice that came from this input)",)

    def forward(*xs, axis=0):
        axis = normalize_axis_tuple(axis, xs[0].ndim)[0]
        return np.concatenate(xs, axis=axis), (axis, np.cumsum([x.shape[axis] for x in xs])[:-1])

    def vjp(g, saved, needs):
        axis, cuts = saved
        return tuple(p if n else None for p, n in zip(np.split(g, cuts, axis=axis), needs))


def _rows_of(xs):
    """The read-only array whose rows xs are, in order, else None: stacking them is that array, no copy.
    Each x must be the whole row k of one C-contiguous array (its start, shape and strides), two rows at
    least. (A recurrent layer writes its steps into such an array, see tape.move_value. Rows of a writable
    array are copied: the stack must not share memory with an array its owner may still edit.)"""
    base = xs[0].base
    if len(xs) < 2 or type(base) is not np.ndarray or base.flags.writeable or not base.flags.c_contiguous \
            or base.shape != (len(xs),) + xs[0].shape:
        return None
    start, step, shape, strides = base.__array_interface__["data"][0], base.strides[0], base.shape[1:], base.strides[1:]
    for k, x in enumerate(xs):
        if x.base is not base or x.shape != shape or x.strides != strides \
                or x.__array_interface__["data"][0] != start + k * step:
            return None
    return base


class Stack(Op):
    name, rule = "stack", "∂E/∂y unstacked into the pieces"
    latex = r"\frac{\partial E}{\partial x_k} = \frac{\partial E}{\partial y}[k]"
    formula = ("g[{pos}]",)

    def forward(*xs, axis=0):
        out = _rows_of(xs) if axis == 0 else None
        out = np.stack(xs, axis=axis) if out is None else out
        return out, normalize_axis_tuple(axis, out.ndim)[0]

    def vjp(g, axis, needs):
        return tuple(p if n else None for p, n in zip(np.moveaxis(g, axis, 0), needs))


# ---- softmax family (stable: everything relative to the max) -------------------------------------

def _top(x, axis):
    """x.max(axis, keepdims=True), and zeros when x is empty (numpy's max of nothing is an error)."""
    return x.max(axis=axis, keepdims=True) if x.size else x.sum(axis=axis, keepdims=True)


class Softmax(Op):
    name, rule = "softmax", "∂E/∂x = y * (∂E/∂y - sum(∂E/∂y * y))"
    latex = (r"\frac{\partial E}{\partial x} = y \odot \Big(\frac{\partial E}{\partial y} - "
             r"\sum_j \frac{\partial E}{\partial y_j} y_j\Big)")
    formula = ("{y} * (g - (g * {y}).sum(axis={axis}, keepdims=True))",)
    contribution_latex = (r"{y} \odot \big({g} - \textstyle\sum ({g} \odot {y})\big)",)

    kept = _saved_output_first
    def forward(x, axis=-1):
        e = np.exp(x - _top(x, axis))
        out = e / e.sum(axis=axis, keepdims=True)
        return out, (out, axis)

    def vjp(g, saved, needs):
        out, axis = saved
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)


class LogSoftmax(Op):
    name, rule = "log_softmax", "∂E/∂x = ∂E/∂y - softmax(x) * sum(∂E/∂y)"
    latex = (r"\frac{\partial E}{\partial x} = \frac{\partial E}{\partial y} - \mathrm{softmax}(x) "
             r"\sum_j \frac{\partial E}{\partial y_j}")
    formula = ("g - np.exp({y}) * g.sum(axis={axis}, keepdims=True)",)
    contribution_latex = (r"{g} - \mathrm{softmax}({a}) \textstyle\sum {g}",)

    kept = _saved_output_first
    def forward(x, axis=-1):
        shifted = x - _top(x, axis)
        if not x.size:
            return shifted, (shifted, axis)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))   # x - logsumexp(x)
        return out, (out, axis)

    def vjp(g, saved, needs):
        out, axis = saved
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)


BUILT_IN = frozenset(OPS.values())   # the table's own ops, gradchecked; any other op's gradients are shape-checked
