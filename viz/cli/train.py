"""`tinygrad-rnn train charlm|adding|copy`: train a small recurrent model, with a progress bar and a summary.

    tinygrad-rnn train charlm --model gru --steps 600          # prints samples as it learns
    tinygrad-rnn train adding --model rnn --phi relu --seq-len 50     # one run of the adding problem
    tinygrad-rnn train copy --table 10,20,30                    # which models learn it, at three lengths
"""
import argparse

from tinygrad_rnn import tasks

import os
import stat

from .options import (MAX_STEPS, MAX_TEXT_BYTES, MAX_TRAIN_CELLS, MAX_TRAIN_STEPS, MAX_TRAIN_WIDTH, ProgressBar,
                      positive)

DEFAULTS = {    # per task: steps, seq_len, hidden, batch_size, lr, clip
    "charlm": {"steps": 600, "seq_len": 32, "hidden": 64, "batch_size": 16, "lr": 3e-3, "clip": 5.0},
    "adding": {"steps": 1500, "seq_len": 20, "hidden": 32, "batch_size": 32, "lr": 5e-3, "clip": 1.0},
    "copy": {"steps": 1500, "seq_len": 12, "hidden": 32, "batch_size": 32, "lr": 5e-3, "clip": 1.0},
}


def _lengths(text):
    try:
        lengths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        lengths = []
    if not lengths or min(lengths) <= 0 or max(lengths) > MAX_STEPS:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive lengths up to {MAX_STEPS} such as "
                                         f"10,20,40, got {text!r}")
    return lengths


def register(subparsers):
    p = subparsers.add_parser(
        "train", help="train a small model: character LM, adding problem, copy task",
        description="Train a small recurrent model with Adam and gradient clipping; gradients come from the tape. "
                    "charlm uses truncated BPTT (the state is detached every --seq-len characters).")
    p.add_argument("task", choices=sorted(DEFAULTS), help="what to learn")
    p.add_argument("--model", choices=("rnn", "lstm", "gru") + tuple(m for m in tasks.MODELS if "-" in m),
                   default="lstm", help="the recurrent layer, spelled as for draw and step: rnn (with --phi), lstm, "
                                        "gru; rnn-tanh and rnn-relu are kept as other names (default: lstm)")
    p.add_argument("--phi", choices=("tanh", "relu"), default="tanh", help="the nonlinearity of --model rnn")
    p.add_argument("--steps", type=positive(most=MAX_TRAIN_STEPS), help="optimiser steps")
    p.add_argument("--seq-len", type=positive(most=MAX_STEPS),
                   help="adding/copy: the sequence length T; charlm: the truncation length k")
    p.add_argument("--hidden", type=positive(most=MAX_TRAIN_WIDTH), help="hidden size")
    p.add_argument("--batch-size", type=positive(most=MAX_TRAIN_WIDTH), help="sequences per step")
    p.add_argument("--lr", type=positive(float), help="Adam's learning rate")
    p.add_argument("--clip", type=positive(float), help="max global gradient norm (clip_grad_norm)")
    p.add_argument("--seed", type=int, default=0, help="makes init and data repeatable (default: 0)")
    p.add_argument("--text", metavar="FILE", help="charlm: a UTF-8 text file instead of the built-in text")
    p.add_argument("--sample-every", type=positive(), default=100, metavar="N", help="charlm: sample every N steps")
    p.add_argument("--table", type=_lengths, metavar="T1,T2,...",
                   help="adding/copy: train every model at each length and print which learned")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args):
    if args.table and args.task == "charlm":
        raise ValueError("--table is for the memory tasks (adding, copy), not charlm")
    if args.text and args.task != "charlm":
        raise ValueError("--text is for charlm only")
    if args.model == "rnn":
        args.model = f"rnn-{args.phi}"                  # the tasks' name for it
    elif args.phi != "tanh" and not args.model.startswith("rnn"):
        raise ValueError(f"--phi is the nonlinearity of --model rnn; {args.model} has its own gates")
    opts = {k: v if getattr(args, k) is None else getattr(args, k) for k, v in DEFAULTS[args.task].items()}
    longest = max(args.table or [opts["seq_len"]])
    if opts["batch_size"] * longest * opts["hidden"] > MAX_TRAIN_CELLS:
        raise ValueError(f"--batch-size x --seq-len x --hidden = {opts['batch_size']} x {longest} x {opts['hidden']} "
                         f"is more than {MAX_TRAIN_CELLS:,} on the command line: make one of them smaller")
    common = {"steps": opts["steps"], "hidden": opts["hidden"], "batch": opts["batch_size"], "lr": opts["lr"],
              "clip": opts["clip"], "seed": args.seed}
    if args.task == "charlm":
        return _charlm(args, common, opts["seq_len"])
    train = tasks.train_adding if args.task == "adding" else tasks.train_copy
    if not args.table:
        result = train(args.model, seq_len=opts["seq_len"], **common,
                       on_step=ProgressBar(f"{args.task} {args.model}", quiet=args.quiet))
        print(result.summary())
        return 0
    results = {}
    for seq_len in args.table:
        for model in tasks.MODELS:
            bar = ProgressBar(f"{args.task} T={seq_len} {model}", quiet=args.quiet)
            results[model, seq_len] = result = train(model, seq_len=seq_len, **common, on_step=bar)
            print(result.summary(), flush=True)
    print()
    print(tasks.format_table(results))
    return 0


def _charlm(args, common, seq_len):
    text = None
    if args.text:
        try:
            text = read_text(args.text)
        except UnicodeDecodeError as err:
            raise ValueError(f"--text {args.text}: not UTF-8 text (byte {err.start} cannot be decoded)") from None
    bar = ProgressBar(f"charlm {args.model}", quiet=args.quiet)

    def show(step, sample):
        bar.clear()
        print(f"--- sample after {step} steps ---\n{sample}\n", flush=True)
    result = tasks.train_charlm(text, args.model, seq_len=seq_len, sample_every=args.sample_every, on_step=bar,
                                on_sample=show, **common)
    print(result.summary())
    return 0


def read_text(path):
    """A regular UTF-8 file of at most MAX_TEXT_BYTES (a FIFO or a device would block or never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)    # opening a FIFO for reading must not wait for a writer
    with open(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"--text {path}: not a regular file")
        if info.st_size > MAX_TEXT_BYTES:
            raise ValueError(f"--text {path}: {info.st_size:,} bytes, more than the {MAX_TEXT_BYTES:,} the command "
                             "reads; use a shorter text (or tasks.train_charlm from Python)")
        return f.read(MAX_TEXT_BYTES + 1).decode("utf-8")
