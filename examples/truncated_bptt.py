"""Truncated BPTT by hand with an LSTMCell: run over a long sequence, and every k steps take a backward pass
over the last k steps and detach the state. Detaching is the one line that makes it truncated.

    python3 examples/truncated_bptt.py [--k 10] [--length 200]

The task: output, at every step, the input seen 3 steps ago (needs memory across steps, but less than k).
Each backward pass walks only the nodes of the last k steps, however long the sequence is.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing
import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=10, help="truncation length")
    p.add_argument("--length", type=int, default=200, help="steps per pass over the sequence")
    p.add_argument("--epochs", type=int, default=15)
    args = p.parse_args(argv)
    tg.manual_seed(0)
    cell, head = tg.LSTMCell(1, 16), nn.Linear(16, 1)
    params = cell.parameters() + head.parameters()
    opt = optim.Adam(params, lr=1e-2)
    xs = tg.core.rng.generator().uniform(-1, 1, (args.length, 8, 1)).astype(np.float32)   # 8 sequences at once
    history = []
    for epoch in range(1, args.epochs + 1):
        state, loss, total, nodes = None, None, 0.0, 0
        for t in range(args.length):
            state = cell(xs[t], state)
            if t >= 3:
                term = tg.mse_loss(head(state[0]), xs[t - 3])
                loss = term if loss is None else loss + term
            if (t + 1) % args.k == 0 or t + 1 == args.length:        # every k steps ...
                if loss is not None:
                    nodes = max(nodes, len(tg.graph(loss)))
                    opt.zero_grad()
                    loss.backward(keep_grads=False)
                    tg.clip_grad_norm(params, 1.0)
                    opt.step()
                    total += loss.item()
                state, loss = tg.detach_state(state), None               # ... cut the graph: truncated BPTT
        history.append(total / (args.length - 3))
        print(f"epoch {epoch:2d}: mean loss per step {history[-1]:.4f}; largest graph walked: {nodes} nodes")
    return history


if __name__ == "__main__":
    main()
