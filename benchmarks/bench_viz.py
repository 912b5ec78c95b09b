"""How long viz takes to draw an unrolled network, worst case: the budget is 5 s per picture on this machine.

    python3 benchmarks/bench_viz.py            # RNN/LSTM/GRU x 1-3 layers x T = 1 ... 1,000 x ops/cells detail
    python3 benchmarks/bench_viz.py --quick    # T = 1, 10, 1,000 only
    python3 benchmarks/bench_viz.py --huge     # huge inputs, each in fresh processes (median of 3): an elided
                                               # picture of a 2,000 and 20,000-step LSTM(2, 4), and 10,000 and
                                               # 20,000 nested scopes (refused); seconds, CPU seconds, peak RSS

Each case builds the model (PyTorch-style layers from tinygrad_rnn.rnn, input 4, hidden 8, batch 2), runs
loss = sum(output * R) and backward (not timed), then times viz.draw (tape -> view -> DOT) and `dot -Tsvg`
(the layout) in wall-clock seconds. One row per case, and the worst case per model at the end; a case over
the budget is marked with "!". A script that reports, not a timed test.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
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


def huge_case(case, size):
    """One huge input in this (fresh) process: build it (not timed), then time viz.draw + .source."""
    import contextlib
    if case.startswith("lstm"):
        rng = np.random.default_rng(0)
        out, _ = tg.LSTM(2, 4)(tg.Tensor(rng.normal(size=(size, 1, 2)), name="x"))
        loss = out.sum()
        loss.backward(keep_grads=True)
    else:
        x = tg.Tensor(np.ones(3), requires_grad=True, name="x")
        with contextlib.ExitStack() as stack:
            for _ in range(size):
                stack.enter_context(tg.scope("a"))
            loss = (x * 2.0).sum()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        viz.draw(loss, **({"layout": "lr", "max_steps": 8} if case == "lstm_lr" else {})).source
        outcome = "drawn"
    except ValueError as err:
        outcome = type(err).__name__
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mib": peak / 1024, "before_mib": before / 1024,
                      "outcome": outcome}))


def huge(rounds=3):
    """Each huge case in `rounds` fresh processes; the medians. The default draw (layout auto) runs dot."""
    cases = [("lstm_lr", 2000), ("lstm_lr", 20000), ("lstm", 2000), ("lstm", 20000), ("scopes", 10000),
             ("scopes", 20000)]
    print(f"{'case':24} {'size':>6} {'draw s':>7} {'cpu s':>6} {'peak MiB':>9} {'before':>7}  outcome")
    medians = {}
    for case, size in cases:
        runs = []
        for _ in range(rounds):
            done = subprocess.run([sys.executable, __file__, "--huge-case", case, str(size)], capture_output=True,
                                  text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "rss_mib", "before_mib")}
        medians[case, size] = med
        name = {"lstm_lr": "LSTM(2,4) draw lr", "lstm": "LSTM(2,4) draw (auto)", "scopes": "nested scopes"}[case]
        print(f"{name:24} {size:6} {med['wall']:7.2f} {med['cpu']:6.2f} {med['rss_mib']:9.0f} "
              f"{med['before_mib']:7.0f}  {runs[0]['outcome']}", flush=True)
    for case in ("lstm_lr", "lstm"):
        small, large = medians[case, 2000], medians[case, 20000]
        print(f"{case}: 10x the steps costs {large['cpu'] / small['cpu']:.1f}x the CPU time, "
              f"{(large['rss_mib'] - large['before_mib']) / max(small['rss_mib'] - small['before_mib'], 1):.1f}x "
              "the memory drawing adds (linear: about 10)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 1, 10, 1000 only")
    parser.add_argument("--huge", action="store_true", help="huge inputs in fresh processes")
    parser.add_argument("--huge-case", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.huge_case:
        return huge_case(args.huge_case[0], int(args.huge_case[1])) or 0
    if args.huge:
        return huge()
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
