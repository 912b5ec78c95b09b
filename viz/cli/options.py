"""What the subcommands share: positive-number argument types and the example-network options.

`step`, `player`, `draw` and `bptt` all take --model/--layers/--steps/--phi/--s0/--seed (and --hidden) with the
same defaults, and build the same network from them (tinygrad_rnn.teach.examples), so a picture, a walk and
the formulas printed for the same options are of one network.
"""
import argparse

from tinygrad_rnn.teach.examples import MODELS, PHIS, STARTS, example_network


def positive(kind=int):
    """An argparse type: a positive int (or float), else a one-line error naming what was given."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {'integer' if kind is int else 'number'}, "
                                             f"got {text!r}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def add_network_options(p):
    """The example-network options, the same on every command that builds one."""
    p.add_argument("--model", choices=MODELS, default="seed",
                   help="the seed's network, or tg.RNN / LSTM / GRU with a linear read-out (default: seed)")
    p.add_argument("--layers", type=positive(), default=1,
                   help="stacked layers; --model seed --layers 2 is the seed's two-layer network (default: 1)")
    p.add_argument("--steps", type=positive(), default=3, help="time steps T to unroll (default: 3)")
    p.add_argument("--phi", choices=PHIS, default="tanh", help="the nonlinearity of seed and rnn (default: tanh)")
    p.add_argument("--s0", choices=STARTS, default="random",
                   help="initial state: small random values, or zeros as PyTorch (then the t=1 term of the "
                        "recurrent weight vanishes) (default: random)")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights and data (default: 0)")
    p.add_argument("--hidden", type=positive(), default=3, help="hidden size (default: 3)")


def build(args):
    """The example network the options name: an Example (loss, names, title)."""
    return example_network(args.model, args.steps, args.layers, args.phi, args.s0, args.seed, args.hidden)
