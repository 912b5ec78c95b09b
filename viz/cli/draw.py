"""`tinygrad-rnn draw`: the unrolled graph of a small RNN, LSTM, GRU or the seed's network, with gradient flow.

    tinygrad-rnn draw --model lstm --steps 5 --out lstm.svg           # gates as sub-clusters, one per step
    tinygrad-rnn draw --model gru --steps 200 --layers 2 --out gru.png # long: middle steps elided, cells
    tinygrad-rnn draw --model seed --out seed.pdf                     # the seed's three-step network
    tinygrad-rnn draw --model seed --layers 2 --steps 4 --out two.svg # the seed's two-layer network
    tinygrad-rnn draw --model lstm --steps 3 --layout tb --font 16    # one row per step, larger text
    tinygrad-rnn draw --model lstm --steps 12 --folded --out cell.png  # rolled up: the cell once, h loops back

By default (--layout auto) the picture fits a 1920x1080 slide with every name and number at least 12 px
high when it can: the steps side by side, else one row per step, else the same with one box per cell, else
all of these with four steps drawn (the first two and the last two, unless --max-steps is given), else two
rows of steps. Side by side and one per row, every step is drawn the same way.

The loss is ½‖y_T − d_T‖² on the last step's output (the seed's E_3 for --model seed; the two-layer network's
E = Σ_t ½‖O_t − d_t‖²), so the picture shows how the gradient of a late loss reaches the early steps — or fades
on the way. The network options (--model/--layers/--steps/--phi/--s0/--seed) are those of step, player and bptt.
"""
import argparse
import sys
import time

from .options import add_network_options, positive


def build_loss(model, steps=3, layers=1, hidden=3, phi="tanh", seed=0, s0="random", backward=True):
    """(loss, description): the example network (teach.examples) and backward(keep_grads=True) unless told not to."""
    from tinygrad_rnn.teach.examples import example_network
    example = example_network(model, steps, layers, phi, s0, seed, hidden)
    if backward:
        example.loss.backward(keep_grads=True)           # keep every edge's gradient for the picture
    return example.loss, example.title


UNROLLED = dict(detail="auto", grads=True, values=False, shared="auto", max_steps=None, layout="auto", columns=None)


def register(subparsers):
    p = subparsers.add_parser("draw", help="draw the unrolled graph with the gradient along every edge",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_options(p)
    p.add_argument("--detail", choices=("auto", "ops", "cells"), default="auto",
                   help="ops: every op, gates as boxes; cells: one box per cell and step; auto: by size")
    p.add_argument("--grads", action=argparse.BooleanOptionalAction, default=True,
                   help="run backward and show the gradient along every edge (default on)")
    p.add_argument("--values", action="store_true", help="print the values of named tensors")
    p.add_argument("--shared", choices=("auto", "edges", "copies"), default="auto",
                   help="a weight used at every step: a copy per step (auto), or one vertex with an edge per "
                        "use (the steps are then joined: dot may draw them differently, even out of order)")
    p.add_argument("--max-steps", type=positive(), default=None, help="elide the middle beyond this many steps")
    p.add_argument("--layout", choices=("auto", "lr", "tb", "wrap"), default="auto",
                   help="lr: steps side by side, time left to right; tb: one row per step, time top to bottom "
                        "(both draw every step the same way); wrap: rows of --columns steps; auto (default): the "
                        "first whose text is >= 12 px on a 1920x1080 slide")
    p.add_argument("--columns", type=positive(), default=None, help="steps per row for --layout wrap")
    p.add_argument("--font", type=float, default=None, help="size of every name and number in points (default 14)")
    p.add_argument("--folded", action="store_true",
                   help="draw the loop rolled up: each layer's cell once, its state looping back (xT steps), each "
                        "weight once with its .grad and the spread of its per-step terms; the size does not grow "
                        "with --steps (--detail/--shared/--max-steps/--layout/--columns/--values do not apply)")
    p.add_argument("--out", default=None, help="output file: .svg .png .pdf or .dot (default <model>.svg)")
    p.set_defaults(run=run)


def run(args):
    import viz
    out = args.out or f"{args.model}.svg"
    loss, what = build_loss(args.model, args.steps, args.layers, args.hidden, args.phi, args.seed, args.s0,
                            backward=args.grads)
    start = time.perf_counter()
    options = dict(detail=args.detail, grads=args.grads, values=args.values, shared=args.shared,
                   max_steps=args.max_steps, layout=args.layout, columns=args.columns)
    if args.folded:
        options = {"folded": True, "grads": args.grads} | {k: v for k, v in options.items() if v != UNROLLED[k]}
    try:
        viz.save(loss, out, title=what, font=args.font, **options)
    except viz.DotNotFound as missing:
        print(f"tinygrad-rnn draw: {missing}", file=sys.stderr)
        return 1
    print(f"wrote {out}: {what} ({time.perf_counter() - start:.1f} s)")
    return 0
