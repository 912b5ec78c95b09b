"""`tinygrad-rnn player`: write the HTML backprop player for a small unrolled network.

    tinygrad-rnn player --model seed --out backprop.html          # the seed's three-step network
    tinygrad-rnn player --model lstm --steps 4 --out lstm.html
"""
from .options import add_network_options, build


def run_player(args):
    from ..player import player

    example = build(args)
    p = player(example.loss, args.out, names=example.names, title=f"Backprop through {example.title}",
               detail=args.detail, check=args.check)
    checked = {"all": "every node", "states": "the loss, the states and the leaves", "leaves": "the leaves",
               "none": "nothing"}[p.data["check"]]
    print(f"wrote {args.out}: {len(p)} backward steps; open it in a browser (it works offline). "
          f"Finite-difference checks embedded for {checked}.")
    return 0


def register(subparsers):
    p = subparsers.add_parser("player", help="write an HTML page that steps through backprop in the browser",
                              description="Backward through a small unrolled network, as one self-contained HTML "
                                          "file: the graph, a panel per node, running sums, a quiz mode.")
    add_network_options(p)
    p.add_argument("--out", default="backprop.html", help="the HTML file to write (default: backprop.html)")
    p.add_argument("--detail", choices=("auto", "ops", "cells"), default="auto",
                   help="one vertex per op, or one box per cell and step (default: auto)")
    p.add_argument("--check", choices=("auto", "all", "states", "leaves", "none"), default="auto",
                   help="which gradients get finite-difference checks (default: auto, a few seconds at most)")
    p.set_defaults(run=run_player)
