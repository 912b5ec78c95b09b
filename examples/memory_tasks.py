"""Which recurrent networks remember across T steps? The adding problem and the copy task, at several lengths,
for tanh-RNN, relu-RNN, LSTM and GRU (all trained with Adam and the seed's gradient clipping; the LSTM's
forget gate starts at bias 1, the usual practice).

    python3 examples/memory_tasks.py [--steps 1500] [--adding 10,25,50] [--copy 10,20,30]

This measures the seed's claim: gradients through tanh steps vanish, so a plain RNN stops learning long
dependencies, while the gates of LSTM and GRU keep a path open. Same as `tinygrad-rnn train adding --table ...`.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing
from tinygrad_rnn import tasks


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--adding", default="10,25,50", help="sequence lengths for the adding problem")
    p.add_argument("--copy", default="10,20,30", help="sequence lengths for the copy task")
    args = p.parse_args(argv)
    for task, lengths in [("adding", args.adding), ("copy", args.copy)]:
        lengths = [int(T) for T in lengths.split(",")]
        results = tasks.memory_table(task, lengths, steps=args.steps,
                                     on_result=lambda r: print(r.summary(), flush=True))
        print("\n" + tasks.format_table(results) + "\n")


if __name__ == "__main__":
    main()
