"""`tinygrad-rnn draw`: the unrolled graph of a small RNN, LSTM, GRU or the seed's network, with gradient flow.

    tinygrad-rnn draw --model lstm --steps 5 --out lstm.svg           # gates as sub-clusters, one per step
    tinygrad-rnn draw --model gru --steps 200 --layers 2 --out gru.png # long: middle steps elided, cells
    tinygrad-rnn draw --model seed --out seed.pdf                     # the seed's three-step network
    tinygrad-rnn draw --model seed --layers 2 --steps 4 --out two.svg # the seed's two-layer network

The loss is ½‖y_T − d‖² on the last step's output (the seed's E_3 for --model seed), so the picture shows
how the gradient of one late loss reaches the early steps — or fades on the way.
"""
import argparse
import sys
import time

import numpy as np

MODELS = ("rnn", "lstm", "gru", "seed")


def build_loss(model, steps=3, layers=1, hidden=3, inputs=2, phi="tanh", seed=0, backward=True):
    """(loss, description): the model run over `steps` random inputs, and backward() unless told not to."""
    import tinygrad_rnn as tg
    from tinygrad_rnn import seed as seed_nets
    from tinygrad_rnn.rnn import GRU, LSTM, RNN

    tg.core.rng.manual_seed(seed)                # the modules' weights follow it
    rng = np.random.default_rng(seed)
    if model == "seed":
        if layers == 1 and steps == 3:
            loss, _ = seed_nets.three_step_network(phi=phi, seed=seed, input_size=inputs, hidden_size=hidden)
        elif layers == 1:
            net = seed_nets.ThreeStepRNN(inputs, hidden, 1, phi=phi, dtype=np.float64, rng=rng)
            xs = [tg.Tensor(rng.uniform(0, 1, inputs), name=f"x_{t}") for t in range(1, steps + 1)]
            loss = net(xs, tg.Tensor(rng.uniform(-1, 1, 1), name=f"d_{steps}"))[f"E_{steps}"]
        elif layers == 2:
            loss, _ = seed_nets.two_layer_network(phi=phi, seed=seed, steps=steps, input_size=inputs,
                                                  hidden_size=hidden)
        else:
            raise ValueError("draw: the seed's networks have 1 layer (three-step) or 2 (two-layer), "
                             f"not {layers}")
        what = "the seed's " + ("three-step" if layers == 1 else "two-layer") + " network"
    else:
        kind = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[model]
        extra = {"nonlinearity": phi} if model == "rnn" else {}
        net = kind(inputs, hidden, num_layers=layers, dtype=np.float64, **extra)
        x = tg.Tensor(rng.normal(size=(steps, 1, inputs)), name="x")
        output, _ = net(x)
        with tg.scope("loss"):
            y, d = output[-1], tg.Tensor(rng.normal(size=(1, hidden)), name="d")
            loss = 0.5 * ((y - d) ** 2).sum()
        loss.name = "E"
        what = f"{model.upper()}, {layers} layer{'s' * (layers > 1)}"
    if backward:
        loss.backward(keep_grads=True)                   # keep every edge's gradient for the picture
    return loss, f"{what}, {steps} step{'s' * (steps > 1)}"


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def register(subparsers):
    p = subparsers.add_parser("draw", help="draw the unrolled graph with the gradient along every edge",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=MODELS, default="lstm")
    p.add_argument("--steps", type=_positive, default=3, help="time steps T (default 3)")
    p.add_argument("--layers", type=_positive, default=1, help="stacked layers (default 1)")
    p.add_argument("--hidden", type=_positive, default=3, help="hidden size (default 3)")
    p.add_argument("--phi", choices=("tanh", "relu"), default="tanh", help="nonlinearity of rnn and seed")
    p.add_argument("--detail", choices=("auto", "ops", "cells"), default="auto",
                   help="ops: every op, gates as boxes; cells: one box per cell and step; auto: by size")
    p.add_argument("--grads", action=argparse.BooleanOptionalAction, default=True,
                   help="run backward and show the gradient along every edge (default on)")
    p.add_argument("--values", action="store_true", help="print the values of named tensors")
    p.add_argument("--shared", choices=("auto", "edges", "copies"), default="auto",
                   help="a weight used at every step: one vertex with an edge per use, or a copy per step")
    p.add_argument("--max-steps", type=_positive, default=None, help="elide the middle beyond this many steps")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights and inputs")
    p.add_argument("--out", default=None, help="output file: .svg .png .pdf or .dot (default <model>.svg)")
    p.set_defaults(run=run)


def run(args):
    import viz
    out = args.out or f"{args.model}.svg"
    loss, what = build_loss(args.model, args.steps, args.layers, args.hidden, phi=args.phi, seed=args.seed,
                            backward=args.grads)
    start = time.perf_counter()
    try:
        viz.save(loss, out, detail=args.detail, grads=args.grads, values=args.values, shared=args.shared,
                 max_steps=args.max_steps, title=what)
    except viz.DotNotFound as missing:
        print(f"tinygrad-rnn draw: {missing}", file=sys.stderr)
        return 1
    print(f"wrote {out}: {what} ({time.perf_counter() - start:.1f} s)")
    return 0
