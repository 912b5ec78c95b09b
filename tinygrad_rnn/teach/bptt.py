"""The seed's BPTT formulas (1)-(3), read off the graph of its three-step network -- and of any example
network (teach.examples): the seed's network over T steps, its two-layer network, tg.RNN/LSTM/GRU.

    (1) dE_3/dW_y = dE_3/dy_3 dy_3/dW_y
    (2) dE_3/dW_s = dE_3/dy_3 dy_3/ds_3 ds_3/dW_s
                  + dE_3/dy_3 dy_3/ds_3 ds_3/ds_2 ds_2/dW_s
                  + dE_3/dy_3 dy_3/ds_3 ds_3/ds_2 ds_2/ds_1 ds_1/dW_s
    (3) the same for W_x.

Nothing here differentiates anything. W_s is used at t = 1, 2, 3 (in s_{t-1} W_s), so the graph has three
edges into W_s, and the backward walk sends one gradient along each: those three gradients *are* the three
terms of formula (2) -- the term for step k is the chain from E_3 back to s_k times the "immediate" partial
ds_k/dW_s (s_{k-1} held fixed). We run the walk with a Stepper (so it is `backward()` itself), pick up the
contribution on each edge into W_x, W_s and W_y, label it with the step's t=, and print it beside its
symbolic chain. Their sum is W.grad, which is checked.
"""
from dataclasses import dataclass

import numpy as np

from .stepper import Stepper

_WEIGHTS = (("W_y", 1), ("W_s", 2), ("W_x", 3))     # weight, the seed's formula number


@dataclass(frozen=True)
class Term:
    """One term of a formula: the contribution on the edge into the weight at time step t."""
    t: int
    chain: str                # '∂E_3/∂y_3 · ∂y_3/∂s_3 · ∂s_3/∂s_2 · ∂s_2/∂W_s'
    latex: str
    value: np.ndarray         # the gradient the walk sent along that edge
    step: int                 # index of the stepper step that sent it

    def _repr_latex_(self):
        """Jupyter: the chain and its value, rendered (MathJax reads the LaTeX)."""
        return f"$\\displaystyle {self.latex} = {matrix_latex(self.value)}\\quad (t = {self.t})$"

    def _repr_markdown_(self):
        return f"term of the use at t={self.t} (walk step {self.step + 1}):\n\n$$ {self.latex} = {matrix_latex(self.value)} $$"


@dataclass(frozen=True)
class Formula:
    """∂E_T/∂W as the sum of its per-time-step terms, and the gradient backward() left in W.grad."""
    number: int               # the seed's formula number: 1 for W_y, 2 for W_s, 3 for W_x
    weight: str
    terms: tuple              # Term per use of the weight, in walk order (t = T first)
    grad: np.ndarray          # W.grad after the walk
    lhs: str                  # '∂E_3/∂W_s'

    @property
    def total(self):
        return sum(term.value for term in self.terms)

    @property
    def max_diff(self):
        return float(np.max(np.abs(self.total - self.grad)))

    @property
    def ok(self):
        return bool(np.allclose(self.total, self.grad, rtol=1e-12, atol=1e-12 * (1 + np.max(np.abs(self.grad)))))

    @property
    def latex(self):
        """The formula with its numbers: lhs = Σ_t chain_t = value_t + ... = the sum, as LaTeX (one line per term)."""
        loss, w = self._sides()
        lhs = rf"\frac{{\partial {loss}}}{{\partial {w}}}"
        rows = [rf"{lhs} &= {term.latex} && (t = {term.t}) \\" for term in self.terms[:1]]
        rows += [rf"&\quad + {term.latex} && (t = {term.t}) \\" for term in self.terms[1:]]
        values = " + ".join(matrix_latex(term.value) for term in self.terms)
        rows.append(rf"&= {values} \\" if len(self.terms) > 1 else "")
        rows.append(rf"&= {matrix_latex(self.total)} = {w}\text{{.grad}}")
        return r"\begin{aligned}" + "\n".join(r for r in rows if r) + r"\end{aligned}"

    def _sides(self):
        """The loss and the weight of the lhs ('∂E_3/∂W_s') as LaTeX."""
        loss, _, weight = self.lhs[1:].partition("/∂")
        return _tex(loss), _tex(weight)

    def _repr_latex_(self):
        """Jupyter: formula (n) rendered, each term's chain, its value, and their sum (= W.grad)."""
        return f"$$ {self.latex} $$"

    def _repr_markdown_(self):
        verdict = "equal" if self.ok else "DIFFERENT"
        loss, w = self._sides()
        return (f"**({self.number})** $\\partial {loss}/\\partial {w}$: {len(self.terms)} term(s), one per use "
                f"of ${w}$; their sum and ${w}$.grad are {verdict} (max |difference| {self.max_diff:.1e}).\n\n"
                f"$$ {self.latex} $$")


def chain(weight, t, T, latex=False):
    """The symbolic chain of the term for `weight` used at step t, in the seed's notation.

    W_y: ∂E_T/∂y_T · ∂y_T/∂W_y.
    W_s, W_x used at step t: ∂E_T/∂y_T · ∂y_T/∂s_T · ∂s_T/∂s_{T-1} ··· ∂s_t/∂W.
    """
    if weight not in ("W_x", "W_s", "W_y"):
        raise ValueError(f"chain: weight must be 'W_x', 'W_s' or 'W_y', got {weight!r}")
    if not (isinstance(t, int) and isinstance(T, int) and 1 <= t <= T):
        raise ValueError(f"chain: need whole time steps 1 <= t <= T, got t={t!r}, T={T!r}")
    if latex:
        frac = lambda a, b: rf"\frac{{\partial {_tex(a)}}}{{\partial {_tex(b)}}}"
    else:
        frac = lambda a, b: f"∂{a}/∂{b}"
    E, y, s = f"E_{T}", f"y_{T}", lambda k: f"s_{k}"
    if weight == "W_y":
        parts = [frac(E, y), frac(y, weight)]
    else:
        parts = [frac(E, y), frac(y, s(T))] + [frac(s(k), s(k - 1)) for k in range(T, t, -1)] + [frac(s(t), weight)]
    return ("" if latex else " · ").join(parts)


def seed_formulas(E=None, named=None, phi="tanh", seed=0, s_0="random"):
    """Formulas (1), (2), (3) for the seed's three-step network, as Formula objects.

    Pass (E, named) from `seed.three_step_network()` (or a ThreeStepRNN: `named` maps 'W_x', 'W_s',
    'W_y' and 's_1'.. to tensors); otherwise one is built from phi, seed and s_0. Runs the backward walk
    (the weights' .grad are set, as by E.backward()).
    """
    if E is None:
        from .seed import three_step_network
        E, named = three_step_network(phi=phi, seed=seed, s_0=s_0)
    return network_formulas(E, {name: named[name] for name, _ in _WEIGHTS})


def _roles(names):
    """Per weight: (formula number, lhs, chain(t, T, latex)) for the seed's network, its two-layer network or
    a library layer with a read-out `head` (see teach.examples)."""
    frac = lambda a, b, latex: rf"\frac{{\partial {_tex(a)}}}{{\partial {_tex(b)}}}" if latex else f"∂{a}/∂{b}"
    dot = lambda parts, latex: ("" if latex else " · ").join(parts)
    if "W_s'" in names:                                   # E = Σ_t E_t: E_k reads O_k, every later loss reads s'_k
        def by_state(state, w):
            return lambda t, T, latex: dot([frac("E", f"{state}_{t}", latex), frac(f"{state}_{t}", w, latex)], latex)
        roles = {"W": (1, lambda t, T, latex: dot([frac(f"E_{t}", f"O_{t}", latex), frac(f"O_{t}", "W", latex)], latex)),
                 "W_s'": (2, by_state("s'", "W_s'")), "W_s": (2, by_state("s", "W_s")),
                 "W_y": (3, by_state("s'", "W_y")), "W_x": (3, by_state("s", "W_x"))}
        return {w: (n, f"∂E/∂{w}", c) for w, (n, c) in roles.items() if w in names}
    if "W_s" in names:
        return {w: (n, None, lambda t, T, latex, w=w: chain(w, t, T, latex)) for w, n in _WEIGHTS if w in names}
    roles = {}
    lstm = any(n.startswith("weight_hh_l") and p.shape[0] == 4 * p.shape[1] for n, p in names.items())
    for w in names:
        if w.startswith("head."):
            roles[w] = (1, lambda t, T, latex, w=w: dot([frac(f"E_{T}", f"y_{T}", latex), frac(f"y_{T}", w, latex)],
                                                      latex))
            continue
        layer = int(w.rsplit("_l", 1)[1])
        h = "h" + (f"^({layer})" if layer else "")
        state = (lambda t, h=h: f"({h}_{t}, c{h[1:]}_{t})") if lstm else (lambda t, h=h: f"{h}_{t}")
        roles[w] = (2 if "_hh_" in w else 3, lambda t, T, latex, w=w, state=state: dot(
            [frac(f"E_{T}", state(t), latex), frac(state(t), w, latex)], latex))
    return {w: (n, None, c) for w, (n, c) in roles.items()}


def _tex(name):
    """A plain name as LaTeX: s'_2 -> s'_{2}, weight_ih_l0 -> \\mathrm{weight}_{ih,l0}, h^(1)_3 -> h^{(1)}_{3},
    an LSTM's state (h_1, c_1) -> (h_{1}, c_{1})."""
    if name.startswith("(") and name.endswith(")"):
        return "(" + ", ".join(_tex(part) for part in name[1:-1].split(", ")) + ")"
    base, _, sub = name.partition("_")
    base = base.replace("^(", "^{(").replace(")", ")}") if "^(" in base else base
    if len(base) > 1 and base.replace(".", "").isalpha():
        base = rf"\mathrm{{{base}}}"
    return base + (f"_{{{sub.replace('_', ',')}}}" if sub else "")


def network_formulas(E, weights):
    """Formulas (1)-(3) of any example network (teach.examples): per weight, its terms -- one per use, one per
    step of a batched input projection -- read off one backward walk (the weights' .grad are set, as by
    E.backward()), each beside its symbolic chain. `weights` maps display names to the parameters."""
    stepper = Stepper(E, names=weights)
    uses = {name: [] for name in weights}
    for step in stepper:
        for acc in step.accumulations:
            if acc.name in uses:
                uses[acc.name].append((step.index, acc))
    T = max((acc.step or 0 for found in uses.values() for _, acc in found), default=1) or 1
    E_name = E.name or "E"
    formulas = []
    roles = _roles(weights)
    for name in sorted(weights, key=lambda w: roles[w][0]):
        number, lhs, chain_of = roles[name]
        terms = tuple(Term(acc.step or T, chain_of(acc.step or T, T, False), chain_of(acc.step or T, T, True),
                           acc.contribution, index) for index, acc in uses[name])
        formulas.append(Formula(number, name, terms, np.array(weights[name].grad), lhs or f"∂{E_name}/∂{name}"))
    return formulas


def matrix_latex(a, digits=3):
    """A number, row vector or matrix as LaTeX (a bmatrix; a 1-D array is a row, as in the seed)."""
    a = np.asarray(a, dtype=np.float64)
    num = lambda v: f"{v:.{digits}g}".replace("e", r"\mathrm{e}")
    if a.ndim == 0:
        return num(float(a))
    rows = a.reshape(1, -1) if a.ndim == 1 else a.reshape(-1, a.shape[-1])
    body = r" \\ ".join(" & ".join(num(v) for v in row) for row in rows)
    return r"\begin{bmatrix}" + body + r"\end{bmatrix}"


def _matrix(a, digits=3):
    """A small matrix on one line: [[0.0123, -0.45], [1.2, 0]]."""
    a = np.asarray(a)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    return "[" + ", ".join(_matrix(row, digits) for row in a) + "]"


def _matrix_lines(prefix, a, width=110):
    """prefix and the matrix a on one line when that fits in `width`, else one row per line, aligned."""
    text = _matrix(a)
    if len(prefix) + len(text) <= width or np.ndim(a) != 2 or len(a) < 2:
        return [prefix + text]
    rows, pad = [_matrix(row) for row in np.asarray(a)], " " * (len(prefix) + 1)
    return [f"{prefix}[{rows[0]},", *(f"{pad}{row}," for row in rows[1:-1]), f"{pad}{rows[-1]}]"]


def _equations(weights, phi, T):
    """The network's equations, as the title line of the printout."""
    if "W_s'" in weights:
        return (f"s_t = {phi}(x_t W_x + s_(t-1) W_s), s'_t = {phi}(s_t W_y + s'_(t-1) W_s'), O_t = s'_t W, "
                f"t = 1..{T}; E = Σ_t 1/2 |O_t - d_t|^2")
    if "W_s" in weights:
        return f"s_t = {phi}(x_t W_x + s_(t-1) W_s), t = 1..{T}; y_{T} = s_{T} W_y; E_{T} = 1/2 |y_{T} - d_{T}|^2"
    return (f"h_t = cell(x_t, h_(t-1)) with PyTorch's weights, t = 1..{T}; y_{T} = head(h_{T}); "
            f"E_{T} = 1/2 |y_{T} - d_{T}|^2")


def _notes(weights):
    if "W_s'" in weights:
        return ["E = Σ_t E_t, so ∂E/∂s'_k gathers every later loss: ∂E/∂s'_k = ∂E_k/∂O_k ∂O_k/∂s'_k + "
                "∂E/∂s'_(k+1) ∂s'_(k+1)/∂s'_k, and ∂E/∂s_k = ∂E/∂s'_k ∂s'_k/∂s_k + ∂E/∂s_(k+1) ∂s_(k+1)/∂s_k "
                "(formula (2)'s chain, once per later loss): the walk adds them up at s'_k and s_k."]
    if "W_s" in weights:
        return []
    return ["∂E_T/∂h_k is formula (2)'s chain from E_T back to step k. The layer applies weight_ih to all steps "
            "in one batched product; its term at step k is the rows of that product that belong to step k."]


def format_formulas(formulas, phi="tanh", loss=None, title=None):
    """The formulas as text: each term's chain, its value from the graph, and the check against W.grad."""
    T = max(term.t for f in formulas for term in f.terms)
    weights = {f.weight for f in formulas}
    if title is None:
        title = ("the seed's two-layer network" if "W_s'" in weights else
                 ("the seed's three-step network" if T == 3 else f"the seed's network unrolled over {T} steps")
                 if "W_s" in weights else "the network")
    lines = [f"{title[0].upper() + title[1:]}: {_equations(weights, phi, T)}"]
    if loss is not None:
        lines.append(f"{'E' if chr(39) in ''.join(weights) else f'E_{T}'} = {loss:.6g}")      # the two-layer E has no _T
    state = "s" if "W_s" in weights else "h"
    lines.append("Each term is the gradient the backward walk sent along one edge into the weight; "
                 f"∂{state}_k/∂W means {state}_(k-1) held fixed.")
    lines += _notes(weights)
    for f in formulas:
        steps = ", ".join(f"t={term.t}" for term in sorted(f.terms, key=lambda term: term.t))
        n = len(f.terms)
        batched = n > 1 and len({term.step for term in f.terms}) == 1     # one edge: a product over all steps
        count = {1: "once", 2: "twice"}.get(n, f"{n} times")
        adds = "one contribution" if n == 1 else f"{n} contributions, one per use"
        use = (f"is used once for all steps ({steps}), in one batched product: the walk adds one contribution, "
               f"whose rows are {n} terms, one per step") if batched else f"is used {count} ({steps}), so the walk adds {adds}"
        lines += ["", f"({f.number}) {f.lhs}: {f.weight} {use}"]
        width = max(len(term.chain) for term in f.terms)
        for term in f.terms:
            where = f"step {term.t}'s rows of the edge" if batched else "edge"
            lines.append(f"    t={term.t}  {term.chain:<{width}}   ({where} into {f.weight}, walk step {term.step + 1})")
            lines += _matrix_lines("          = ", term.value)
        if len(f.terms) > 1:
            lines += _matrix_lines("    sum   = ", f.total)
        verdict = "equal" if f.ok else "DIFFERENT"
        lines += _matrix_lines(f"    {f.weight}.grad = ", f.grad)
        lines.append(f"    terms sum to {f.weight}.grad: {verdict} (max |difference| {f.max_diff:.1e})")
    return "\n".join(lines)


def report(phi="tanh", seed=0, s_0="random", model="seed", steps=3, layers=1, hidden=3):
    """The text `tinygrad-rnn bptt` prints: formulas (1)-(3) of the example network the options name."""
    from .examples import example_network
    example = example_network(model, steps, layers, phi, s_0, seed, hidden)
    loss = example.loss.item()
    return format_formulas(network_formulas(example.loss, example.names), phi=phi, loss=loss, title=example.title)
