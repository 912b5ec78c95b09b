"""Teaching subcommands: `step` (backprop one node at a time), `bptt` (the seed's formulas) and
`gradient-flow` (vanishing and exploding gradients, measured).

    tinygrad-rnn step --model seed|rnn|lstm|gru --steps N [--all]
    tinygrad-rnn bptt [--phi tanh|relu] [--seed N] [--s0 random|zeros]
    tinygrad-rnn gradient-flow --steps 50 [--out flow.png] [--heatmap heat.png] [--models tanh,relu,lstm,gru,...]
"""
import sys

import numpy as np

MODELS = ("seed", "rnn", "lstm", "gru")


def build(model, steps=3, seed=0, phi="tanh"):
    """A small example to step through: (loss, names) where names maps display names to the parameters.

    seed: the seed's three-step network (x W notation, W_x, W_s, W_y), unrolled over `steps` steps.
    rnn / lstm / gru: a one-layer tinygrad_rnn.rnn layer (input 2, hidden 3, batch 1, torch names) and a
    linear read-out of the last state, E_T = 1/2 |h_T W^T + b - d|^2 -- the same shape of problem.
    """
    from tinygrad_rnn import Tensor, nn, rnn
    from tinygrad_rnn.core import rng
    from tinygrad_rnn import seed as seed_nets

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"--steps must be a positive integer, got {steps!r}")
    if model == "seed":
        if steps == 3:
            E, named = seed_nets.three_step_network(phi=phi, seed=seed)
        else:
            r = np.random.default_rng(seed)
            net = seed_nets.ThreeStepRNN(2, 3, 1, phi=phi, dtype=np.float64, rng=r)
            xs = r.uniform(0, 1, (steps, 2))
            named = net(xs, r.uniform(-1, 1, 1), r.uniform(0, 0.5, 3))
            E = named[f"E_{steps}"]
            named |= dict(net.named_parameters())
        return E, {n: named[n] for n in ("W_x", "W_s", "W_y")}
    rng.manual_seed(seed)
    kind = {"rnn": rnn.RNN, "lstm": rnn.LSTM, "gru": rnn.GRU}[model]
    layer = kind(2, 3, dtype=np.float64) if model != "rnn" else kind(2, 3, nonlinearity=phi, dtype=np.float64)
    head = nn.Linear(3, 1, dtype=np.float64)
    x = Tensor(rng.generator().uniform(-1, 1, (steps, 1, 2)), name="x")
    d = Tensor(rng.generator().uniform(-1, 1, (1, 1)), name=f"d_{steps}")
    _, h_n = layer(x)
    h_T = (h_n[0] if model == "lstm" else h_n)[0]
    y = head(h_T)
    y.name = f"y_{steps}"
    E = ((y - d) ** 2).sum() * 0.5
    E.name = f"E_{steps}"
    names = dict(layer.named_parameters()) | {f"head.{n}": p for n, p in head.named_parameters()}
    return E, names


# ---- step ------------------------------------------------------------------------------------------

def _summary(stepper):
    from tinygrad_rnn.teach.stepper import compact, norm

    lines = ["", "done: every leaf's gradient is final (the same .grad that backward() gives)"]
    for name, leaf in stepper.leaves.items():
        lines.append(f"  {name}.grad = {compact(leaf.grad)}  |.|={norm(leaf.grad):.3g}")
    shared = {}                # last running sum of each weight used at several steps
    for step in stepper.steps:
        for acc in step.accumulations:
            if acc.shared and acc.kind == "leaf":
                shared[acc.name] = acc
    for acc in shared.values():
        terms = list(acc.history)
        shown = " + ".join(terms if len(terms) <= 6 else terms[:3] + ["..."] + terms[-2:])
        lines.append(f"  shared: {acc.name} summed {len(terms)} contributions: {shown}")
    return "\n".join(lines)


def run_step(args):
    from tinygrad_rnn.teach.stepper import Stepper

    E, names = build(args.model, args.steps, args.seed, args.phi)
    stepper = Stepper(E, names=names)
    out = sys.stdout
    print(f"Backward through the {args.model} network unrolled over {args.steps} time steps: "
          f"{stepper.total} nodes, visited from the loss back to the inputs.", file=out)
    print("Each step: the node, the gradient arriving at its output (upstream), the op's local rule, and the "
          "gradient it sends to each input; '**' marks a contribution added into a weight or a shared tensor.",
          file=out)
    if args.all:
        for step in stepper:
            print("\n" + step.describe(), file=out)
        print(_summary(stepper), file=out)
        return 0
    print("[Enter] next   b back   a all the rest   q quit", file=out)
    step = stepper.next()
    print("\n" + step.describe(), file=out)
    while True:
        try:
            answer = input("> ").strip().lower()
        except EOFError:
            answer = "q"
        if answer == "q":
            print(f"(stopped at step {stepper.position + 1} of {stepper.total}; the leaves hold partial sums)",
                  file=out)
            return 0
        if answer == "a":
            for step in stepper:
                print("\n" + step.describe(), file=out)
            print(_summary(stepper), file=out)
            return 0
        if answer == "b":
            if stepper.position <= 0:
                print("(this is the first step)", file=out)
                continue
            step = stepper.prev()                       # replayed from the record, nothing recomputed
        else:
            step = stepper.next()
            if step is None:
                print(_summary(stepper), file=out)
                return 0
        print("\n" + step.describe(), file=out)


# ---- bptt and gradient-flow ------------------------------------------------------------------------

def run_bptt(args):
    from tinygrad_rnn import bptt
    print(bptt.report(phi=args.phi, seed=args.seed, s_0=args.s0))
    return 0


def run_gradient_flow(args):
    from tinygrad_rnn import flow
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for option, path in (("--out", args.out), ("--heatmap", args.heatmap)):
        if path and not path.lower().endswith((".png", ".pdf", ".svg")):
            raise ValueError(f"{option} {path}: the plot is written as .png, .pdf or .svg (from the suffix)")
    flows = flow.gradient_flow(args.steps, models=models, input_size=args.input_size,
                               hidden_size=args.hidden_size, max_norm=args.max_norm, seed=args.seed)
    print(flow.format_table(flows))
    if args.out or args.heatmap:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise OSError("the plot needs matplotlib: pip install 'tinygrad-rnn[plot]'") from None
        from viz import plots
    if args.out:
        plots.gradient_flow(flows, args.out)
        print(f"\nplot written to {args.out}")
    if args.heatmap:
        plots.gradient_flow_heatmap(flows, args.heatmap)
        print(f"\nheatmap of ||ds_t/ds_k|| written to {args.heatmap}")
    return 0


def _positive_int(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def register(subparsers):
    from tinygrad_rnn.teach.flow import DEFAULT_MODELS

    p = subparsers.add_parser("step", help="step through backprop one node at a time",
                              description="Backward through a small unrolled network, one node per Enter.")
    p.add_argument("--model", choices=MODELS, default="seed", help="which network (default: seed)")
    p.add_argument("--steps", type=_positive_int, default=3, help="time steps to unroll (default: 3)")
    p.add_argument("--all", action="store_true", help="print every step without waiting (for scripts)")
    p.add_argument("--phi", choices=("tanh", "relu"), default="tanh", help="seed / rnn nonlinearity")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights and data (default: 0)")
    p.set_defaults(run=run_step)

    p = subparsers.add_parser("bptt", help="the seed's BPTT formulas (1)-(3), term by term, from the graph",
                              description="dE_3/dW_y, dE_3/dW_s and dE_3/dW_x of the seed's three-step network, "
                                          "each split into one term per time step, read off the backward walk.")
    p.add_argument("--phi", choices=("tanh", "relu"), default="tanh", help="the nonlinearity Φ (default: tanh)")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights and data (default: 0)")
    p.add_argument("--s0", choices=("random", "zeros"), default="random",
                   help="initial state s_0 (zeros makes the t=1 term of W_s vanish)")
    p.set_defaults(run=run_bptt)

    p = subparsers.add_parser("gradient-flow", help="vanishing/exploding gradients in RNN, LSTM, GRU, measured",
                              description="||dE_T/ds_t||, ||ds_T/ds_k|| and per-step weight gradients, with and "
                                          "without clipping, for several recurrent models of the same size.")
    p.add_argument("--steps", type=_positive_int, default=50, help="sequence length T (default: 50)")
    p.add_argument("--out", help="write a plot here (.png, .pdf, .svg; needs matplotlib)")
    p.add_argument("--heatmap", metavar="FILE", help="write the (t, k) matrix of ||ds_t/ds_k|| per model, on a "
                                                     "log colour scale (.png, .pdf, .svg; needs matplotlib)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated: tanh, relu, lstm, gru, with options such as relu:rho=3 or "
                        f"lstm:forget_bias=3 (default: {','.join(DEFAULT_MODELS)})")
    p.add_argument("--hidden-size", type=_positive_int, default=16, help="hidden units (default: 16)")
    p.add_argument("--input-size", type=_positive_int, default=4, help="input features (default: 4)")
    p.add_argument("--max-norm", type=_positive_float, default=1.0, help="clipping threshold (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(run=run_gradient_flow)
