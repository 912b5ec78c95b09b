"""One training step (forward + backward) of recurrent layers, five ways, in one run.

    python3 benchmarks/bench_rnn.py            # everything (about 10 minutes on a 2-core machine)
    python3 benchmarks/bench_rnn.py --quick    # first workload, fewer repeats, T up to 1,000 (about 1 minute)
    python3 benchmarks/bench_rnn.py --help     # choose workloads, contenders, sections, repeats

Workload: loss = sum(output * R) for a fixed random R, float32, gradients of every parameter and of the
input and initial state. Contenders:
  numpy        the hand-written vectorized forward + BPTT of benchmarks/numpy_bptt.py (the baseline, 1.00)
  tinygrad_rnn this project's nn.LSTM / GRU / RNN, loss.backward(keep_grads=False), as a training loop runs it
  tg+keep      the same with backward(keep_grads=True): every node keeps the gradients it saw (what the
               diagrams and the stepper read)
  tg kernels   the floor of our per-step graph: the ops our step records, their numpy kernels alone, called
               on plain arrays from a graph recorded once (no Tensor, Node, scope or walk)
  torch        torch.nn.LSTM / GRU / RNN (PyTorch's C++ kernels)
  torch loop   PyTorch eager autograd over the same per-step primitive ops as this project's cells
  autograd     HIPS autograd over the same per-step loop written with autograd.numpy
Method (fresh, the gate): each contender runs alone in its own fresh process, as a user's script would, with
glibc's default allocator and one BLAS thread: one warm-up step, then the median CPU time of `repeats` steps;
rounds of all contenders alternate (rotated order) and the table shows the median over rounds, the median of
each round's ratio to numpy (runs seconds apart drift together on a shared machine), and minor page faults per
step; the same again with steady_heap's mallopt settings beside it. The variants section times our 2-layer step
against the same with dropout between the layers and against one bidirectional layer, alike.
Method (time): every contender runs in this process with one BLAS / OpenMP thread; contenders are interleaved
(each repeat visits them all, in a rotating order) and timed with time.process_time() (CPU time, so other
jobs on a shared machine count little); the table shows the median ms per step and the ratio to numpy.
The process keeps freed memory in glibc's heap (steady_heap), so that no contender's time depends on page
faults the allocation history of the process happened to cause.
Peak memory runs each contender alone in a fresh subprocess: after the imports, a tiny warm-up step and
building the inputs, the kernel's peak-RSS mark is reset (/proc/self/clear_refs = 5); peak = VmHWM after
one step minus VmRSS before it -- everything the step made the process hold, numpy, torch's allocator and
Python objects alike (tracemalloc would miss torch's memory). Without clear_refs it falls back to ru_maxrss.
"""
import os
import sys

if __name__ == "__main__":                      # one BLAS thread, before numpy is imported
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse       # noqa: E402
import contextlib     # noqa: E402
import functools      # noqa: E402
import gc             # noqa: E402
import importlib.metadata  # noqa: E402
import json           # noqa: E402
import platform       # noqa: E402
import re             # noqa: E402
import resource       # noqa: E402
import subprocess     # noqa: E402
import time           # noqa: E402
from pathlib import Path  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np    # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import numpy_bptt as nb  # noqa: E402

GATES = {"lstm": 4, "gru": 3, "rnn": 1}

# name: (kind, layers, B, I, H, T)
WORKLOADS = {
    "lstm": ("lstm", 1, 32, 128, 128, 50),
    "lstm-512": ("lstm", 1, 32, 512, 512, 50),
    "lstm-T200": ("lstm", 1, 8, 32, 32, 200),
    "gru": ("gru", 1, 32, 128, 128, 50),
    "gru-512": ("gru", 1, 32, 512, 512, 50),
    "gru-T200": ("gru", 1, 8, 32, 32, 200),
    "rnn": ("rnn", 1, 32, 128, 128, 50),
    "rnn-512": ("rnn", 1, 32, 512, 512, 50),
    "rnn-T200": ("rnn", 1, 8, 32, 32, 200),
    "lstm-2layer": ("lstm", 2, 32, 128, 128, 50),
}
CONTENDERS = ["numpy", "tinygrad_rnn", "tg+keep", "tg kernels", "torch", "torch loop", "autograd"]
SCALING_T = [10, 100, 1000, 10000]
SCALING_SHAPE = (8, 32, 32)          # (B, I, H) of the LSTM whose time and memory are scaled in T


# ---- inputs ------------------------------------------------------------------------------------------

def make_inputs(kind, layers, B, I, H, T, dtype=np.float32, seed=0):
    """x (T,B,I), h0/c0 (L,B,H), per-layer (w_ih, w_hh, b_ih, b_hh) with torch's init, R (T,B,H)."""
    rng = np.random.default_rng(seed)
    G, bound = GATES[kind], 1 / np.sqrt(H)
    u = lambda *shape: rng.uniform(-bound, bound, size=shape)  # noqa: E731
    d = {"x": rng.standard_normal((T, B, I)), "h0": 0.5 * rng.standard_normal((layers, B, H))}
    if kind == "lstm":
        d["c0"] = 0.5 * rng.standard_normal((layers, B, H))
    d["params"] = [(u(G * H, I if k == 0 else H), u(G * H, H), u(G * H), u(G * H)) for k in range(layers)]
    d["R"] = rng.standard_normal((T, B, H))
    cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return {k: [tuple(map(cast, p)) for p in v] if k == "params" else cast(v) for k, v in d.items()}


PARAM_NAMES = ("w_ih", "w_hh", "b_ih", "b_hh")
TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _grads(x, h0, c0, layer_grads):
    """The common result of every contender: {x, h0, c0?, w_ih_l0, ...} as numpy arrays."""
    out = {"x": x, "h0": h0}
    if c0 is not None:
        out["c0"] = c0
    for k, g in enumerate(layer_grads):
        out.update({f"{n}_l{k}": a for n, a in zip(PARAM_NAMES, g)})
    return out


# ---- (a) the hand-written numpy BPTT ---------------------------------------------------------------------

def setup_numpy(kind, d):
    x, R, params = d["x"], d["R"], d["params"]
    if kind == "lstm":
        def step():
            out, _, caches = nb.multilayer_lstm_forward(x, d["h0"], d["c0"], params)
            g = nb.multilayer_lstm_backward(R, caches)
            return _grads(g["x"], g["h0"], g["c0"], [[lg[n] for n in PARAM_NAMES] for lg in g["layers"]])
        return step
    if len(params) != 1:
        raise ValueError("the numpy baseline stacks layers for the LSTM only")
    fwd, bwd = getattr(nb, kind + "_forward"), getattr(nb, kind + "_backward")

    def step():
        _, _, cache = fwd(x, d["h0"][0], *params[0])
        g = bwd(R, cache)
        return _grads(g["x"], g["h0"][None], None, [[g[n] for n in PARAM_NAMES]])
    return step


# ---- (b) this project ------------------------------------------------------------------------------------

def _project_step(kind, d):
    """Our layer with the weights of `d`: (its loss = sum(output * R) as a function, the leaves x, h0, c0?,
    then each layer's weights, and a function of their gradients in that order giving the common result)."""
    import tinygrad_rnn as tg
    from tinygrad_rnn import rnn

    layers, H, I = len(d["params"]), d["h0"].shape[-1], d["x"].shape[-1]
    model = {"lstm": rnn.LSTM, "gru": rnn.GRU, "rnn": rnn.RNN}[kind](I, H, num_layers=layers)
    for k, p in enumerate(d["params"]):
        for n, a in zip(TORCH_NAMES, p):
            getattr(model, f"{n}_l{k}").data = a.copy()
    x, h0 = tg.Tensor(d["x"], requires_grad=True), tg.Tensor(d["h0"], requires_grad=True)
    c0 = tg.Tensor(d["c0"], requires_grad=True) if kind == "lstm" else None
    R = tg.Tensor(d["R"])
    states = [h0] + ([c0] if c0 is not None else [])
    leaves = [x] + states + [getattr(model, f"{n}_l{k}") for k in range(layers) for n in TORCH_NAMES]

    def loss():
        out, _ = model(x, tuple(states) if c0 is not None else h0)
        return (out * R).sum()

    def result(grads):
        weights = grads[1 + len(states):]
        return _grads(grads[0], grads[1], grads[2] if c0 is not None else None,
                      [weights[4 * k:4 * k + 4] for k in range(layers)])
    return loss, leaves, result


def setup_project(kind, d, keep_grads=False):
    loss, leaves, result = _project_step(kind, d)

    def step():
        for t in leaves:
            t.grad = None
        loss().backward(keep_grads=keep_grads)
        return result([t.grad for t in leaves])
    return step


class _Recorded(NamedTuple):
    """One recorded op as the ops-alone step replays it: slots are places in that step's list of arrays."""
    forward: object
    vjp: object
    params: dict
    inputs: list         # the slots of its inputs, in argument order
    needs: tuple         # which inputs want a gradient
    out: int             # the slot of its output
    last_use: list       # the slots whose last reader this op is: dropped once it has run


def setup_kernels(kind, d):
    """The floor of this project's per-step graph: the ops a training step records, their own numpy work
    only. The graph is recorded once; each step calls its ops' forward in creation order and their vjp_lean
    newest first on plain arrays, the contributions summed as the lean walk sums them (lazy.add_term), each
    value dropped after its last use as the tape drops it, with no Tensor, Node, scope or walk."""
    from tinygrad_rnn.core import lazy, ops, tape

    loss, leaves, result = _project_step(kind, d)
    nodes = tape.nodes_newest_first(loss().node)[::-1]             # creation order
    slot = {}                                                    # leaf tensor or node -> its place in `values`
    for t in leaves + [a for n in nodes for a in n.args if type(a) is not tape.Node]:
        slot.setdefault(t, len(slot))
    leaf_arrays = [t.data for t in slot]
    for n in nodes:
        slot[n] = len(slot)
    last_reader = {slot[a]: j for j, n in enumerate(nodes) for a in n.args if type(a) is tape.Node}
    program = [_Recorded(n.op.forward, n.op.vjp_lean, n.params, [slot[a] for a in n.args],
                         tuple(a.requires_grad for a in n.args), slot[n],
                         [slot[a] for a in set(n.args) if type(a) is tape.Node and last_reader[slot[a]] == j])
               for j, n in enumerate(nodes)]
    grads_of = [slot[t] for t in leaves]

    def step():
        values, saved = leaf_arrays + [None] * len(nodes), []
        with contextlib.ExitStack() as transposed:              # a layer's W_hh^T copied once, as our forward
            for op in program:
                arrays = [values[i] for i in op.inputs]
                if op.params.get("contiguous_wt") and ops.state.transposed[0] is not arrays[1]:
                    transposed.close()
                    transposed.enter_context(ops.transposed_once(arrays[1]))
                values[op.out], s = op.forward(*arrays, **op.params)
                saved.append(s)
                for i in op.last_use:                           # what a vjp saved stays in `saved`
                    values[i] = None
        pending = {program[-1].out: np.ones_like(values[program[-1].out])}
        values = None
        for op in reversed(program):
            g = lazy.dense(pending.pop(op.out))
            for i, c, need in zip(op.inputs, op.vjp(g, saved.pop(), op.needs), op.needs):
                if c is not None and need:
                    lazy.add_term(pending, i, c, i < len(leaf_arrays))
        return result([lazy.dense(pending[i]) for i in grads_of])
    return step


def setup_variant(kind, d, variant):
    """Our layer at the sizes of `d` in three forms with the same cells: "2 layers", "dropout" (dropout=0.2
    between the two layers, training mode) and "bidirectional" (one layer, both directions over x: the work of
    two layers when input = hidden). Weights of torch's init; gradients of x and of every weight."""
    import tinygrad_rnn as tg

    T, B, I = d["x"].shape
    H = d["h0"].shape[-1]
    options = {"2 layers": dict(num_layers=2), "dropout": dict(num_layers=2, dropout=0.2),
               "bidirectional": dict(bidirectional=True)}[variant]
    tg.manual_seed(0)
    model = getattr(tg.nn, kind.upper())(I, H, **options)
    for p in model.parameters():
        p.data = p.data.astype(d["x"].dtype)
    x = tg.Tensor(d["x"], requires_grad=True)
    R = tg.Tensor(np.concatenate([d["R"], d["R"][::-1]], axis=-1) if variant == "bidirectional" else d["R"])
    leaves = {"x": x, **dict(model.named_parameters())}

    def step():
        for t in leaves.values():
            t.grad = None
        (model(x)[0] * R).sum().backward()
        return {name: t.grad for name, t in leaves.items()}
    return step


# ---- (c) PyTorch: nn.LSTM, and an eager loop of primitive ops ---------------------------------------------

def _torch():
    import torch
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:                        # already set in this process
        pass
    return torch


def setup_torch(kind, d):
    torch = _torch()
    layers, H, I = len(d["params"]), d["h0"].shape[-1], d["x"].shape[-1]
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    mod = cls(I, H, num_layers=layers)
    with torch.no_grad():
        for k, p in enumerate(d["params"]):
            for n, a in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), p):
                getattr(mod, f"{n}_l{k}").copy_(torch.from_numpy(a))
    x, h0 = (torch.tensor(d[k], requires_grad=True) for k in ("x", "h0"))
    c0 = torch.tensor(d["c0"], requires_grad=True) if kind == "lstm" else None
    R = torch.from_numpy(d["R"])
    leaves = [x, h0] + ([c0] if c0 is not None else []) + list(mod.parameters())
    weights = [[getattr(mod, f"{n}_l{k}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
               for k in range(layers)]

    def step():
        for t in leaves:
            t.grad = None
        out, _ = mod(x, (h0, c0) if c0 is not None else h0)
        (out * R).sum().backward()
        return _grads(x.grad.numpy(), h0.grad.numpy(), None if c0 is None else c0.grad.numpy(),
                      [[w.grad.numpy() for w in ws] for ws in weights])
    return step


def loop_forward(F, kind, x, h0s, c0s, params):
    """The per-step loop of this project's cells (tinygrad_rnn/rnn.py), for torch and autograd.numpy.

    F provides the helpers: F.linear (x W^T + b), F.sigmoid, F.tanh, F.stack. Same ops in the same order as
    the cells: the input projection of all steps in one linear, then per step linear(h, W_hh, b_hh), slices, gates.
    """
    T = x.shape[0]
    for k, (w_ih, w_hh, b_ih, b_hh) in enumerate(params):
        H = w_hh.shape[1]
        gx_all = F.linear(x, w_ih, b_ih)
        h, c, hs = h0s[k], (c0s[k] if c0s is not None else None), []
        for t in range(T):
            gx = gx_all[t]
            if kind == "lstm":
                gates = gx + F.linear(h, w_hh, b_hh)
                f = F.sigmoid(gates[..., H:2 * H])
                i = F.sigmoid(gates[..., 0:H])
                g = F.tanh(gates[..., 2 * H:3 * H])
                c = f * c + i * g
                o = F.sigmoid(gates[..., 3 * H:])
                h = o * F.tanh(c)
            elif kind == "gru":
                gh = F.linear(h, w_hh, b_hh)
                r = F.sigmoid(gx[..., :H] + gh[..., :H])
                z = F.sigmoid(gx[..., H:2 * H] + gh[..., H:2 * H])
                n = F.tanh(gx[..., 2 * H:] + r * gh[..., 2 * H:])
                h = (1 - z) * n + z * h
            else:
                h = F.tanh(gx + F.linear(h, w_hh, b_hh))
            hs.append(h)
        x = F.stack(hs)
    return x


def setup_torch_loop(kind, d):
    torch = _torch()

    class F:
        sigmoid, tanh, stack = torch.sigmoid, torch.tanh, torch.stack
        linear = staticmethod(torch.nn.functional.linear)      # one fused op, as this project's linear

    t = lambda a: torch.tensor(a, requires_grad=True)  # noqa: E731
    x, h0 = t(d["x"]), t(d["h0"])
    c0 = t(d["c0"]) if kind == "lstm" else None
    params = [tuple(t(a) for a in p) for p in d["params"]]
    R = torch.from_numpy(d["R"])
    leaves = [x, h0] + ([c0] if c0 is not None else []) + [a for p in params for a in p]

    def step():
        for a in leaves:
            a.grad = None
        out = loop_forward(F, kind, x, h0, c0, params)
        (out * R).sum().backward()
        return _grads(x.grad.numpy(), h0.grad.numpy(), None if c0 is None else c0.grad.numpy(),
                      [[a.grad.numpy() for a in p] for p in params])
    return step


# ---- (d) HIPS autograd over the same loop ----------------------------------------------------------------

def setup_autograd(kind, d):
    import autograd
    import autograd.numpy as anp

    class F:
        tanh, stack = anp.tanh, anp.stack

        @staticmethod
        def linear(x, w, b):                    # autograd.numpy has no fused linear: its primitives
            return x @ w.T + b

        @staticmethod
        def sigmoid(a):                         # the baseline's stable form: sigma(a) = (tanh(a/2) + 1) / 2
            return 0.5 * anp.tanh(0.5 * a) + 0.5

    lstm, layers = kind == "lstm", len(d["params"])

    def loss(x, h0, c0, *flat):
        params = [flat[4 * k:4 * k + 4] for k in range(layers)]
        return anp.sum(loop_forward(F, kind, x, h0, c0 if lstm else None, params) * d["R"])

    flat = [a for p in d["params"] for a in p]
    grad = autograd.grad(loss, argnum=tuple(range(3 + len(flat))))

    def step():
        g = grad(d["x"], d["h0"], d["c0"] if lstm else np.zeros(1, d["x"].dtype), *flat)
        return _grads(g[0], g[1], g[2] if lstm else None, [g[3 + 4 * k:7 + 4 * k] for k in range(layers)])
    return step


SETUPS = {
    "numpy": setup_numpy,
    "tinygrad_rnn": setup_project,
    "tg+keep": lambda kind, d: setup_project(kind, d, keep_grads=True),
    "tg kernels": setup_kernels,
    "torch": setup_torch,
    "torch loop": setup_torch_loop,
    "autograd": setup_autograd,
    **{f"tg {v}": functools.partial(setup_variant, variant=v) for v in ("2 layers", "dropout", "bidirectional")},
}
VARIANTS = ["tg 2 layers", "tg dropout", "tg bidirectional"]    # the variants section (not contenders)


def available(name):
    module = {"torch": "torch", "torch loop": "torch", "autograd": "autograd"}.get(name)
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# ---- measuring -------------------------------------------------------------------------------------------

def steady_heap():
    """Keep freed memory in glibc's heap for the rest of this process, for every contender alike.

    By default glibc returns the top of the heap to the kernel once more than a few MB are free there, and
    serves large blocks by mmap: a step that frees its tens of MB then touches fresh pages next step, each a
    page fault (6,500 per step, a third of its time, for our LSTM step in some histories, none in others).
    Which contender pays depends on what the process happened to allocate before; fixing the thresholds
    (M_TRIM_THRESHOLD, M_MMAP_THRESHOLD) makes every timing free of that. Returns whether it applied."""
    import ctypes
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):                  # not glibc: nothing to fix
        return False
    return bool(mallopt(-1, 1 << 30)) and bool(mallopt(-3, 32 << 20))   # trim at 1 GiB, mmap from 32 MiB


def cpu_ms(step):
    gc.collect()
    start = time.process_time()
    step()
    return 1e3 * (time.process_time() - start)


def compare(name, got, want, rtol=2e-3):
    """float32 results of different summation orders: compare relative to each gradient's scale."""
    for k, w in want.items():
        g = np.asarray(got[k], dtype=np.float64)
        if g.shape != w.shape:
            raise AssertionError(f"{name}: grad {k} has shape {g.shape}, expected {w.shape}")
        err = np.abs(g - w).max() / max(np.abs(w).max(), 1e-30)
        if err > rtol:
            raise AssertionError(f"{name}: grad {k} differs from the numpy baseline by {err:.2g} (relative)")


def time_workload(kind, layers, B, I, H, T, contenders, repeats, check=True):
    """Median CPU ms per step of each contender, interleaved (rotating order), after one warm-up each."""
    d = make_inputs(kind, layers, B, I, H, T)
    steps = {c: SETUPS[c](kind, d) for c in contenders}
    want = None
    for c, step in steps.items():               # warm-up, and every contender's gradients checked
        got = step()
        if check:
            want = want or {k: np.asarray(v, np.float64) for k, v in got.items()}
            compare(c, got, want)
    times = {c: [] for c in contenders}
    order = list(contenders)
    for r in range(repeats):
        for c in order[r % len(order):] + order[:r % len(order)]:
            times[c].append(cpu_ms(steps[c]))
    return {c: float(np.median(v)) for c, v in times.items()}


def _status():
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1)) for k in ("VmRSS", "VmHWM")}


def memory_child(contender, kind, layers, B, I, H, T):
    """In a fresh process: peak memory (MB) one step adds over the process after imports and inputs, and the
    step's CPU time."""
    d = make_inputs(kind, layers, B, I, H, 2)
    SETUPS[contender](kind, d)()                # warm-up at T=2: imports, lazy BLAS/torch buffers
    d = make_inputs(kind, layers, B, I, H, T)
    step = SETUPS[contender](kind, d)
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")          # reset the peak-RSS mark to the current RSS
        before, how = _status()["VmRSS"], "VmHWM"
    except OSError:
        before, how = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"
    start = time.process_time()
    step()
    ms = 1e3 * (time.process_time() - start)
    peak = (_status()["VmHWM"] if how == "VmHWM" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) - before
    print(json.dumps({"peak_mb": peak / 1024, "how": how, "cpu_ms": ms}))


def time_child(contender, kind, layers, B, I, H, T, steps, mallopt):
    """In a fresh process, as a user's script runs: the median CPU ms of `steps` training steps after one
    warm-up, and the minor page faults per step; glibc's default allocator unless mallopt (steady_heap)."""
    if mallopt:
        steady_heap()
    step = SETUPS[contender](kind, make_inputs(kind, layers, B, I, H, T))
    step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = [cpu_ms(step) for _ in range(steps)]
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
    print(json.dumps({"cpu_ms": float(np.median(times)), "faults": faults}))


def fresh_workload(spec, contenders, rounds, steps, mallopt, base):
    """Each contender timed alone in its own fresh process, `rounds` times, the order rotated every round:
    per contender (the median over rounds of each process's median step, the median over rounds of its ratio
    to the contender `base` in the same round, the median page faults per step). A ratio within a round pairs
    runs a few seconds apart: a shared machine's speed drifts over minutes, and the pairs drift together."""
    got = {c: [] for c in contenders}
    for r in range(rounds):
        for c in contenders[r % len(contenders):] + contenders[:r % len(contenders)]:
            cmd = [sys.executable, __file__, "--time-child", c, *map(str, spec), str(steps), str(int(mallopt))]
            res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
            if res.returncode != 0:
                raise RuntimeError(f"fresh-process run of {c} failed:\n{res.stderr[-2000:]}")
            got[c].append(json.loads(res.stdout.strip().splitlines()[-1]))
    ms = {c: np.array([g["cpu_ms"] for g in v]) for c, v in got.items()}
    return {c: (float(np.median(ms[c])), float(np.median(ms[c] / ms[base])), float(np.median([g["faults"] for g in v])))
            for c, v in got.items()}


def run_child(contender, kind, layers, B, I, H, T, timeout=None):
    """memory_child in a subprocess: {"peak_mb", "cpu_ms"}, or None when it takes longer than `timeout` s."""
    cmd = [sys.executable, __file__, "--memory-child", contender, kind] + [str(v) for v in (layers, B, I, H, T)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if res.returncode != 0:
        raise RuntimeError(f"memory run of {contender} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---- per-op overhead -------------------------------------------------------------------------------------

def op_chain(n_ops=3000, shape=(8, 32)):
    """Two functions that run one chain of n_ops small elementwise ops (mul by a leaf, tanh, add a leaf,
    sigmoid, ...), forward and backward: through Tensors (record + backward(keep_grads=False)), and as the same
    ops' forward and vjp functions called directly on numpy arrays in the same order."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.core import ops

    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(np.float32)
    w = 0.5 * rng.standard_normal(shape).astype(np.float32)
    b = 0.1 * rng.standard_normal(shape).astype(np.float32)
    plan = [(ops.Mul, 1), (ops.Tanh, 0), (ops.Add, 2), (ops.Sigmoid, 0)]
    n_ops -= n_ops % len(plan)

    def framework():
        x, W, B = (tg.Tensor(v, requires_grad=True) for v in (a, w, b))
        y = x
        for k in range(n_ops // len(plan)):
            y = (y * W).tanh() + B
            y = y.sigmoid()
        y.sum().backward(keep_grads=False)

    def kernels():
        y, saved = a, []
        for k in range(n_ops):
            op, other = plan[k % len(plan)]
            args = (y,) if not other else (y, w if other == 1 else b)
            y, s = op.forward(*args)
            saved.append((op, s, len(args)))
        g = np.ones_like(y)
        gw = gb = None
        for op, s, n in reversed(saved):
            grads = op.vjp(g, s, (True,) * n)
            g = grads[0]
            if n == 2:
                if op is ops.Mul:
                    gw = grads[1] if gw is None else gw + grads[1]
                else:
                    gb = grads[1] if gb is None else gb + grads[1]

    return framework, kernels, n_ops


def per_op_overhead(repeats=15):
    """Framework time per recorded op (forward + backward), outside the ops' own numpy work: the chain of
    `op_chain` through Tensors minus its bare kernels, per op -- the cost of Tensor, apply, Node, the walk and
    gradient accumulation."""
    framework, kernels, n_ops = op_chain()
    tf, tk = [], []
    for _ in range(repeats):                    # interleaved, as the contenders are
        tf.append(cpu_ms(framework))
        tk.append(cpu_ms(kernels))
    tf, tk = np.median(tf), np.median(tk)
    return {"ops": n_ops, "framework_us": 1e3 * tf / n_ops, "kernels_us": 1e3 * tk / n_ops,
            "overhead_us": 1e3 * (tf - tk) / n_ops}


# ---- report ----------------------------------------------------------------------------------------------

def environment():
    try:
        import threadpoolctl
    except ImportError:                              # optional: only names the BLAS in the report
        threadpoolctl = None
    lines = [f"python {platform.python_version()}, numpy {np.__version__}"]
    for mod in ("torch", "autograd"):
        try:
            lines[-1] += f", {mod} {importlib.metadata.version(mod)}"
        except importlib.metadata.PackageNotFoundError:
            lines[-1] += f", {mod} not installed"
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    lines.append(f"cpu: {cpu.group(1) if cpu else platform.processor()}, {os.cpu_count()} logical cores")
    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture', '-')}) threads={i['num_threads']}"
            for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] if threadpoolctl else [
            "unknown (threadpoolctl not installed)"]
    lines.append("numpy BLAS: " + "; ".join(blas))
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                          "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    lines.append("env: " + ", ".join(f"{k}={v}" for k, v in env.items() if v is not None))
    return lines


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def label(kind, layers, B, I, H, T):
    return f"{kind}{'' if layers == 1 else f' x{layers}'} ({B},{I},{H},{T})"


def fresh_section(workloads, names, rounds, steps):
    """The gate: each contender in its own fresh process with glibc's default allocator (what a user's script
    gets), beside the same with steady_heap's mallopt settings."""
    for mallopt in (False, True):
        rows = []
        for w in workloads:
            spec = WORKLOADS[w]
            res = fresh_workload(spec, names, rounds, steps, mallopt, "numpy")
            rows.append([label(*spec)] + [f"{res[c][0]:.1f} ms {res[c][1]:5.2f}x {res[c][2]:.0f} pf"
                                          for c in names])
            print(f"  {label(*spec)}: " + ", ".join(f"{c} {res[c][0]:.1f} ms" for c in names) + f"  [{load()}]",
                  flush=True)
        how = ("mallopt: M_TRIM_THRESHOLD 1 GiB, M_MMAP_THRESHOLD 32 MiB" if mallopt
               else "glibc's default allocator")
        print(f"\nFresh process per contender and round ({how}): CPU ms per step (median of {steps} steps after a "
              f"warm-up, median over {rounds} rounds in rotated order), ratio to numpy (the median of the rounds' "
              "ratios), minor page faults per step")
        print(table(rows, ["workload"] + names) + "\n", flush=True)


def variants_section(kinds, rounds, steps):
    """Dropout between layers, and one bidirectional layer, against two unidirectional layers: the same cells,
    each variant in its own fresh process (default allocator), rounds rotated."""
    rows = []
    for kind in kinds:
        spec = (kind, 2, 32, 128, 128, 50)
        res = fresh_workload(spec, VARIANTS, rounds, steps, False, VARIANTS[0])
        rows.append([label(*spec)] + [f"{res[v][0]:.1f} ms {res[v][1]:5.2f}x" for v in VARIANTS])
        print(f"  {label(*spec)}: " + ", ".join(f"{v} {res[v][0]:.1f} ms" for v in VARIANTS) + f"  [{load()}]",
              flush=True)
    print(f"\nVariants of a 2-layer step, each in a fresh process: CPU ms per step (median of {steps} steps, median "
          f"over {rounds} rounds), ratio to two unidirectional layers (the median of the rounds' ratios). dropout: "
          "p = 0.2 between the layers, training mode; bidirectional: one layer, both directions")
    print(table(rows, ["workload"] + VARIANTS) + "\n", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="first workload, 3 repeats, scaling up to T=1000")
    p.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), help="default: all")
    p.add_argument("--contenders", nargs="+", choices=CONTENDERS, help="default: all installed")
    p.add_argument("--repeats", type=int, help="timed repeats per contender (default 7, quick 3)")
    p.add_argument("--sections", nargs="+", choices=["fresh", "variants", "time", "memory", "scaling", "overhead"],
                   default=["fresh", "variants", "time", "memory", "scaling", "overhead"])
    p.add_argument("--scaling-T", nargs="+", type=int, help=f"default {SCALING_T} (quick: up to 1000)")
    p.add_argument("--timeout", type=float, default=300, help="time limit (s) of one step at T > 1000 (default 300)")
    p.add_argument("--rounds", type=int, default=5, help="fresh section: processes per contender (default 5)")
    p.add_argument("--memory-child", nargs=7, help=argparse.SUPPRESS)
    p.add_argument("--time-child", nargs=9, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.memory_child:
        c, kind, *sizes = a.memory_child
        return memory_child(c, kind, *map(int, sizes))
    if a.time_child:
        c, kind, *sizes = a.time_child
        return time_child(c, kind, *map(int, sizes))

    workloads = a.workloads or (["lstm"] if a.quick else list(WORKLOADS))
    contenders = [c for c in (a.contenders or CONTENDERS) if available(c)]
    if "numpy" not in contenders:
        contenders.insert(0, "numpy")
    repeats = a.repeats or (3 if a.quick else 7)
    scaling_T = a.scaling_T or [t for t in SCALING_T if not a.quick or t <= 1000]

    print("tinygrad-rnn benchmark: one training step (forward + backward), loss = sum(output * R), float32")
    print("\n".join(environment()))
    print(f"start: {load()} (this benchmark itself adds about 1.0)\n", flush=True)

    names = [c for c in contenders]
    if "fresh" in a.sections:
        fresh_section(workloads, names, a.rounds, repeats)
    if "variants" in a.sections:
        variants_section(["lstm"] if a.quick else ["lstm", "gru", "rnn"], 3 if a.quick else a.rounds, repeats)
    print("glibc heap: " + ("freed memory kept (M_TRIM_THRESHOLD 1 GiB, M_MMAP_THRESHOLD 32 MiB) for every "
                            "contender's timing" if steady_heap() else "allocator defaults (not glibc)") + "\n")
    if "time" in a.sections:
        rows = []
        for w in workloads:
            spec = WORKLOADS[w]
            res = time_workload(*spec, contenders, repeats)
            base = res["numpy"]
            rows.append([label(*spec)] + [f"{res[c]:.1f} ms {res[c] / base:5.2f}x" for c in names])
            print(f"  {label(*spec)}: " + ", ".join(f"{c} {res[c]:.1f} ms" for c in names) + f"  [{load()}]",
                  flush=True)
        print(f"\nCPU ms per step, median of {repeats} interleaved repeats, and ratio to numpy\n"
              "workload (batch, input, hidden, T)")
        print(table(rows, ["workload"] + names) + "\n", flush=True)

    if "memory" in a.sections:
        rows = []
        for w in workloads:
            kind, layers, B, I, H, _ = WORKLOADS[w]
            spec = (kind, layers, B, I, H, 200)
            mem = {c: run_child(c, *spec)["peak_mb"] for c in contenders}
            rows.append([label(*spec)] + [f"{mem[c]:.1f} MB {mem[c] / mem['numpy']:5.2f}x" for c in names])
            print(f"  {label(*spec)}: " + ", ".join(f"{c} {mem[c]:.1f} MB" for c in names), flush=True)
        print("\nPeak memory of one step at T=200, each contender in its own subprocess (MB, ratio to numpy)")
        print(table(rows, ["workload"] + names) + "\n", flush=True)

    if "scaling" in a.sections:
        B, I, H = SCALING_SHAPE
        scaled = names
        rows = []
        for T in scaling_T:
            if T <= 1000:                               # interleaved in this process, memory in a subprocess
                res = time_workload("lstm", 1, B, I, H, T, scaled, 3)
                mem = {c: run_child(c, "lstm", 1, B, I, H, T)["peak_mb"] for c in scaled}
            else:                                       # one step each, time and memory in a subprocess
                runs = {c: run_child(c, "lstm", 1, B, I, H, T, timeout=a.timeout) for c in scaled}
                res = {c: r and r["cpu_ms"] for c, r in runs.items()}
                mem = {c: r and r["peak_mb"] for c, r in runs.items()}
            cell = lambda c: (f"{1e3 * res[c] / T:.0f} us {mem[c]:.1f} MB" if res[c] is not None  # noqa: E731
                              else f"> {a.timeout:.0f} s")
            rows.append([str(T)] + [cell(c) for c in scaled])
            print(f"  T={T}: " + ", ".join(f"{c} {cell(c)}" for c in scaled) + f"  [{load()}]", flush=True)
        print(f"\nScaling in T, LSTM (B, I, H) = {SCALING_SHAPE}: CPU time per time step (us) and peak memory of one "
              f"step (MB); linear growth = constant us per step, MB proportional to T. T <= 1000: median of 3 "
              f"interleaved steps; T > 1000: one step in a subprocess (time limit {a.timeout:.0f} s).")
        print(table(rows, ["T"] + scaled) + "\n", flush=True)

    if "overhead" in a.sections:
        o = per_op_overhead()
        print(f"Per-op overhead of this project: a chain of {o['ops']} small elementwise ops (8x32), forward + "
              f"backward: {o['framework_us']:.2f} us per op through Tensors, {o['kernels_us']:.2f} us in the "
              f"ops' own numpy forward/vjp -> framework overhead {o['overhead_us']:.2f} us per recorded op")
    print(f"\nend: {load()}")


if __name__ == "__main__":
    main()
