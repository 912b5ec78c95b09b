"""A character-level language model (LSTM or GRU) learns the project's own text, printing samples as it goes.

    python3 examples/charlm.py [--model gru] [--steps 600] [--text FILE]

Training uses truncated BPTT: the text is read as one stream whose state is carried from chunk to chunk but
detached every --seq-len characters (see tinygrad_rnn/tasks.py, train_charlm). Same as `tinygrad-rnn train charlm`.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing
from tinygrad_rnn import tasks


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seq-len", type=int, default=32, help="truncation length: detach the state every k steps")
    p.add_argument("--text", help="a text file to learn instead of the built-in text")
    args = p.parse_args(argv)
    text = Path(args.text).read_text(encoding="utf-8") if args.text else None
    result = tasks.train_charlm(text, args.model, steps=args.steps, seq_len=args.seq_len,
                                on_sample=lambda step, sample: print(f"--- after {step} steps ---\n{sample}\n"))
    print(result.summary())


if __name__ == "__main__":
    main()
