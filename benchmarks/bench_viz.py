"""How long viz takes to draw an unrolled network, worst case: the budget is 5 s per picture on this machine.

    python3 benchmarks/bench_viz.py            # RNN/LSTM/GRU x 1-3 layers x T = 1 ... 1,000 x ops/cells detail
    python3 benchmarks/bench_viz.py --quick    # T = 1, 10, 1,000 only

Each case builds the model (PyTorch-style layers from tinygrad_rnn.rnn, input 4, hidden 8, batch 2), runs
loss = sum(output * R) and backward (not timed), then times viz.draw (tape -> view -> DOT) and `dot -Tsvg`
(the layout) in wall-clock seconds. One row per case, and the worst case per model at the end; a case over
the budget is marked with "!". A script that reports, not a timed test.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_rnn as tg
import viz
from tinygrad_rnn.rnn import GRU, LSTM, RNN

BUDGET = 5.0
MODELS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def loss_of(kind, steps, layers, seed=0):
    rng = np.random.default_rng(seed)
    model = MODELS[kind](4, 8, num_layers=layers)
    x = tg.Tensor(rng.normal(size=(steps, 2, 4)), name="x")
    out, _ = model(x)
    with tg.scope("loss"):
        loss = (out * tg.Tensor(rng.normal(size=out.shape), name="R")).sum()
    loss.name = "loss"
    loss.backward()
    return loss


def one(kind, steps, layers, detail):
    loss = loss_of(kind, steps, layers)
    t0 = time.perf_counter()
    graph = viz.draw(loss, detail=detail)
    t1 = time.perf_counter()
    graph.pipe(format="svg")
    t2 = time.perf_counter()
    return len(tg.graph(loss)), graph.source.count(" -> "), t1 - t0, t2 - t1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 1, 10, 1000 only")
    args = parser.parse_args(argv)
    steps = (1, 10, 1000) if args.quick else (1, 3, 10, 30, 100, 300, 1000)
    print(f"{'model':5} {'layers':>6} {'T':>5} {'detail':6} {'tape':>7} {'edges':>6} {'draw s':>7} "
          f"{'dot s':>6} {'total s':>8}")
    worst = {}
    for kind in MODELS:
        for layers in (1, 2, 3):
            for T in steps:
                for detail in ("ops", "cells"):
                    nodes, edges, t_draw, t_dot = one(kind, T, layers, detail)
                    total = t_draw + t_dot
                    flag = " !" if total > BUDGET else ""
                    print(f"{kind:5} {layers:6} {T:5} {detail:6} {nodes:7} {edges:6} {t_draw:7.2f} {t_dot:6.2f} "
                          f"{total:8.2f}{flag}", flush=True)
                    if total > worst.get(kind, (0,))[0]:
                        worst[kind] = (total, layers, T, detail)
    print()
    for kind, (total, layers, T, detail) in worst.items():
        print(f"worst {kind}: {total:.2f} s ({layers} layers, T={T}, {detail}) — budget {BUDGET:.0f} s")
    return 0 if all(w[0] <= BUDGET for w in worst.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
