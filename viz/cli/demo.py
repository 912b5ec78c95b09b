"""`tinygrad-rnn demo`: the whole tour in one command, every output in one folder.

1. the unrolled LSTM with the gradient that flowed along every edge (SVG and PNG),
2. the seed's three-step network drawn the same way,
3. the step-through player for that network (one self-contained HTML file),
4. the seed's formula (2), dE_3/dW_s, printed as one term per time step and checked against W_s.grad,
5. a small LSTM trained on the adding problem, its loss falling.
"""
import os
import sys

from .options import MAX_TRAIN_STEPS, ProgressBar, positive


def register(subparsers):
    p = subparsers.add_parser("demo", help="draw, step through and train: the whole tour, outputs in one folder",
                              description=__doc__.splitlines()[0])
    p.add_argument("--out", default="demo-out", metavar="DIR", help="folder for the outputs (default: demo-out)")
    p.add_argument("--train-steps", type=positive(most=MAX_TRAIN_STEPS), default=600, metavar="N", help="adding-problem training steps")
    p.set_defaults(run=run)


def _say(text):
    print(text, flush=True)


def run(args):
    import viz
    from tinygrad_rnn import bptt, tasks
    from viz.cli.teach import build

    os.makedirs(args.out, exist_ok=True)
    written = []

    _say("1. An LSTM unrolled over 4 steps; backward(keep_grads=True); every edge labelled with the gradient it carried.")
    loss, _ = build("lstm", steps=4)
    loss.backward(keep_grads=True)               # keep every edge's gradient: the picture shows them
    written += _pictures(viz, loss, os.path.join(args.out, "lstm_gradients"), detail="ops")

    _say("2. The seed's three-step network: s_t = tanh(x_t W_x + s_(t-1) W_s), y_3 = s_3 W_y, E_3.")
    seed_loss, names = build("seed", steps=3)
    seed_loss.backward(keep_grads=True)
    written += _pictures(viz, seed_loss, os.path.join(args.out, "seed_bptt"))

    _say("3. The step-through player for the seed's network.")
    seed_loss, names = build("seed", steps=3)
    written.append(viz.player(seed_loss, os.path.join(args.out, "backprop.html"), names=names).path)

    _say("4. Formula (2) of the seed, read off the graph:\n")
    formulas = bptt.seed_formulas()
    two = [f for f in formulas if f.number == 2]
    _say(bptt.format_formulas(two) + "\n")

    _say(f"5. An LSTM learns the adding problem (T=10, {args.train_steps} Adam steps, clipping at 1.0):")
    bar = ProgressBar("  ", stream=sys.stdout)
    result = tasks.train_adding("lstm", seq_len=10, steps=args.train_steps, on_step=bar)
    _say("   " + result.summary())

    _say(f"\nWrote {len(written)} files into {os.path.abspath(args.out)}:")
    for path in written:
        _say(f"  {path}")
    return 0


def _pictures(viz, loss, stem, **options):
    """SVG and PNG of the graph; without graphviz's `dot` the DOT source and a hint instead."""
    try:
        return [viz.save(loss, stem + ".svg", **options), viz.save(loss, stem + ".png", **options)]
    except viz.DotNotFound as missing:
        _say(f"   {missing}")
        return [stem + ".dot"]
