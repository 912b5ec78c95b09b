"""Teaching subcommands: `step` (backprop one node at a time), `bptt` (the seed's formulas) and
`gradient-flow` (vanishing and exploding gradients, measured).

    tinygrad-rnn step [--model seed|rnn|lstm|gru] [--layers L] [--steps T] [--phi tanh|relu] [--s0 random|zeros] [--all]
    tinygrad-rnn bptt [the same network options: the seed's formulas (1)-(3) for T steps, 1 or 2 layers]
    tinygrad-rnn gradient-flow --steps 50 [--out flow.png] [--heatmap heat.png] [--models tanh,relu,lstm,gru,...]
"""
import sys

from .options import MAX_FLOW_STEPS, MAX_HIDDEN, add_network_options, positive
from .options import build as build_example


def build(model, steps=3, seed=0, phi="tanh", layers=1, s0=None):
    """(loss, names) of the example network (tinygrad_rnn.teach.examples). s0=None: the seed's network from a
    random state, the library layers from zeros as in PyTorch (the commands' --s0 says it for both)."""
    from tinygrad_rnn.teach.examples import example_network
    s0 = s0 or ("random" if model == "seed" else "zeros")
    example = example_network(model, steps, layers, phi, s0, seed)
    return example.loss, example.names


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

    example = build_example(args)
    stepper = Stepper(example.loss, names=example.names)
    out = sys.stdout
    print(f"Backward through {example.title}: {stepper.total} nodes, visited from the loss back to the inputs.",
          file=out)
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
    print(bptt.report(phi=args.phi, seed=args.seed, s_0=args.s0, model=args.model, steps=args.steps,
                      layers=args.layers, hidden=args.hidden))
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
        print(f"\nheatmap of ‖∂s_t/∂s_k‖ written to {args.heatmap}")
    return 0


def register(subparsers):
    from tinygrad_rnn.teach.flow import DEFAULT_MODELS

    p = subparsers.add_parser("step", help="step through backprop one node at a time",
                              description="Backward through a small unrolled network, one node per Enter.")
    add_network_options(p)
    p.add_argument("--all", action="store_true", help="print every step without waiting (for scripts)")
    p.set_defaults(run=run_step)

    p = subparsers.add_parser("bptt", help="the seed's BPTT formulas (1)-(3), term by term, from the graph",
                              description="∂E/∂W of every weight of the example network (the seed's by default: "
                                          "W_y, W_s, W_x; with --layers 2 also W_s' and W), each split into one term "
                                          "per time step, read off the backward walk and checked against W.grad.")
    add_network_options(p)
    p.set_defaults(run=run_bptt)

    p = subparsers.add_parser("gradient-flow", help="vanishing/exploding gradients in RNN, LSTM, GRU, measured",
                              description="‖∂E_T/∂s_t‖, ‖∂s_T/∂s_k‖ and per-step weight gradients, with and "
                                          "without clipping, for several recurrent models of the same size.")
    p.add_argument("--steps", type=positive(most=MAX_FLOW_STEPS), default=50,
                   help=f"sequence length T, at most {MAX_FLOW_STEPS} (default: 50)")
    p.add_argument("--out", help="write a plot here (.png, .pdf, .svg; needs matplotlib)")
    p.add_argument("--heatmap", metavar="FILE", help="write the (t, k) matrix of ‖∂s_t/∂s_k‖ per model, on a "
                                                     "log colour scale (.png, .pdf, .svg; needs matplotlib)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated: tanh, relu, lstm, gru, with options such as relu:rho=3 or "
                        f"lstm:forget_bias=3 (default: {','.join(DEFAULT_MODELS)})")
    p.add_argument("--hidden-size", type=positive(most=MAX_HIDDEN), default=16, help="hidden units (default: 16)")
    p.add_argument("--input-size", type=positive(most=MAX_HIDDEN), default=4, help="input features (default: 4)")
    p.add_argument("--max-norm", type=positive(float), default=1.0, help="clipping threshold (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(run=run_gradient_flow)
