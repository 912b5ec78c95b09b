"""`tinygrad-rnn player`: write the HTML backprop player for a small unrolled network.

    tinygrad-rnn player --model seed --out backprop.html          # the seed's three-step network
    tinygrad-rnn player --model lstm --steps 4 --out lstm.html
"""
from .teach import MODELS, _positive_int, build


def run_player(args):
    from ..player import player

    E, names = build(args.model, args.steps, args.seed, args.phi)
    title = f"Backprop through the {args.model} network unrolled over {args.steps} time steps"
    p = player(E, args.out, names=names, title=title, detail=args.detail, check=args.check)
    checked = {"all": "every node", "states": "the loss, the states and the leaves", "leaves": "the leaves",
               "none": "nothing"}[p.data["check"]]
    print(f"wrote {args.out}: {len(p)} backward steps; open it in a browser (it works offline). "
          f"Finite-difference checks embedded for {checked}.")
    return 0


def register(subparsers):
    p = subparsers.add_parser("player", help="write an HTML page that steps through backprop in the browser",
                              description="Backward through a small unrolled network, as one self-contained HTML "
                                          "file: the graph, a panel per node, running sums, a quiz mode.")
    p.add_argument("--model", choices=MODELS, default="seed", help="which network (default: seed)")
    p.add_argument("--steps", type=_positive_int, default=3, help="time steps to unroll (default: 3)")
    p.add_argument("--out", default="backprop.html", help="the HTML file to write (default: backprop.html)")
    p.add_argument("--detail", choices=("auto", "ops", "cells"), default="auto",
                   help="one vertex per op, or one box per cell and step (default: auto)")
    p.add_argument("--check", choices=("auto", "all", "states", "leaves", "none"), default="auto",
                   help="which gradients get finite-difference checks (default: auto, a few seconds at most)")
    p.add_argument("--phi", choices=("tanh", "relu"), default="tanh", help="seed / rnn nonlinearity")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights and data (default: 0)")
    p.set_defaults(run=run_player)
