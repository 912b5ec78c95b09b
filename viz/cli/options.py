"""What the subcommands share: positive-number argument types, the example-network options, the progress bar.

`step`, `player`, `draw` and `bptt` all take --model/--layers/--steps/--phi/--s0/--seed (and --hidden) with the
same defaults, and build the same network from them (tinygrad_rnn.teach.examples), so a picture, a walk and
the formulas printed for the same options are of one network.
"""
import argparse
import sys
import time

from tinygrad_rnn.teach.examples import MODELS, PHIS, STARTS, example_network


# Upper limits of the command line (the Python API has none): what stays within about 2 GB and a few
# seconds of `dot`. The README's "Limits" lists them.
MAX_STEPS = 1000          # time steps of an example network (draw elides the middle; step and player walk them)
MAX_LAYERS = 4
MAX_HIDDEN = 256          # hidden size of an example network
MAX_COST = 2 ** 25        # steps x layers x gates x hidden^2: each use of a weight keeps its own term (32 bytes
                          # of memory per unit when every edge's gradient is kept, as step, player and draw do)
MAX_FLOW_STEPS = 500      # gradient-flow: its heatmap holds T^2 / 2 products of one-step Jacobians
MAX_TRAIN_STEPS = 100_000
MAX_TRAIN_WIDTH = 1024    # train: hidden size and batch size (an LSTM's weights are 4 x hidden^2)
MAX_TRAIN_CELLS = 2 ** 24  # train: batch x seq-len x hidden, the size of one recorded state sequence
MAX_TEXT_BYTES = 1 << 20   # train charlm --text


def positive(kind=int, most=None):
    """An argparse type: a positive int (or float) up to `most`, else a one-line error naming what was given."""
    def parse(text):
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {'integer' if kind is int else 'number'}, "
                                             f"got {text!r}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"at most {most} on the command line, got {text} "
                                             "(the Python API takes larger sizes)")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def add_network_options(p):
    """The example-network options, the same on every command that builds one."""
    p.add_argument("--model", choices=MODELS, default="seed",
                   help="the seed's network, or tg.RNN / LSTM / GRU with a linear read-out (default: seed)")
    p.add_argument("--layers", type=positive(most=MAX_LAYERS), default=1,
                   help="stacked layers; --model seed --layers 2 is the seed's two-layer network (default: 1)")
    p.add_argument("--steps", type=positive(most=MAX_STEPS), default=3,
                   help=f"time steps T to unroll, at most {MAX_STEPS} (default: 3)")
    p.add_argument("--phi", choices=PHIS, default="tanh", help="the nonlinearity of seed and rnn (default: tanh)")
    p.add_argument("--s0", choices=STARTS, default="random",
                   help="initial state: small random values, or zeros as PyTorch (then the t=1 term of the "
                        "recurrent weight vanishes) (default: random)")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights and data (default: 0)")
    p.add_argument("--hidden", type=positive(most=MAX_HIDDEN), default=3,
                   help=f"hidden size, at most {MAX_HIDDEN} (default: 3)")


GATES = {"lstm": 4, "gru": 3}


def check_cost(args):
    """Refuse, with advice, a network whose kept per-step terms would not fit in about 1 GB."""
    cost = args.steps * args.layers * GATES.get(args.model, 1) * args.hidden ** 2
    if cost > MAX_COST:
        raise ValueError(f"--steps {args.steps} x --layers {args.layers} x --hidden {args.hidden}^2 for {args.model} keeps "
                         f"about {32 * cost / 2 ** 30:.1f} GB of per-step gradient terms; the command line stops at "
                         f"{32 * MAX_COST / 2 ** 30:.0f} GB: fewer steps or a smaller --hidden")


def build(args):
    """The example network the options name: an Example (loss, names, title)."""
    check_cost(args)
    return example_network(args.model, args.steps, args.layers, args.phi, args.s0, args.seed, args.hidden)


class ProgressBar:
    """`label [#####.....] step/steps loss x` on one line of `stream` (stderr by default; a line every 10% when
    not a terminal)."""

    def __init__(self, label, stream=None, quiet=False, width=30):
        self.label, self.stream, self.quiet, self.width = label, stream or sys.stderr, quiet, width
        self.start, self.tty = time.perf_counter(), self.stream.isatty()

    def __call__(self, step, steps, loss):
        if self.quiet or not (self.tty or step == steps or step % max(1, steps // 10) == 0):
            return
        done = int(self.width * step / steps)
        line = (f"{self.label} [{'#' * done}{'.' * (self.width - done)}] {step}/{steps} loss {loss:.4f} "
                f"{time.perf_counter() - self.start:.1f}s")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and step == steps:
            self.stream.write("\n")
        self.stream.flush()

    def clear(self):
        if self.tty and not self.quiet:
            self.stream.write("\r\033[K")
