"""The `tinygrad-rnn` command: the top of the house, so it may import the core and viz.

Each subcommand lives in its own module with a `register(subparsers)` function that adds its parser and
sets `run=function(args) -> exit code` as the parser default. Misuse exits with code 2 and one line of help.
"""
import argparse
import importlib
import os
import sys

import tinygrad_rnn

PIPE_CLOSED = 1            # the exit code when the reader of stdout left (`| head`): Python's own, as its docs advise
COMMAND_MODULES = ["viz.cli.train", "viz.cli.teach", "viz.cli.player", "viz.cli.draw", "viz.cli.demo"]   # each one's register(subparsers) adds a subcommand


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser():
    parser = _Parser(prog="tinygrad-rnn", description="Autodiff on numpy for learning how RNNs learn: "
                     "draw the unrolled graph, step through backprop, train small models.")
    parser.add_argument("--version", action="version", version=f"tinygrad-rnn {tinygrad_rnn.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _common_mistake(args):
    """Arguments several subcommands share, checked before any work starts: the message, or None."""
    seed = getattr(args, "seed", None)
    if isinstance(seed, int) and seed < 0:
        return f"argument --seed: expected a non-negative integer, got {seed}"
    out = getattr(args, "out", None)
    if isinstance(out, str) and os.path.splitext(out)[1]:            # a file to write (not a folder to make)
        folder = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(folder):
            return f"argument --out: the folder {folder} does not exist"
    return None


def _printable_anywhere():
    """Print what cannot be encoded (a path named é.svg under PYTHONIOENCODING=ascii) as escapes, rather
    than fail after the work is done."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv=None):
    """Run the command; the exit code. Output to a reader that left (`tinygrad-rnn step --all | head`) ends the
    command quietly, as the Python docs' "Note on SIGPIPE" (signal module) shows: flush inside the try, so a closed
    pipe shows here and not at exit; then what is still buffered goes to devnull, and the exit code is 1."""
    try:
        code = _run(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return PIPE_CLOSED


def _run(argv):
    _printable_anywhere()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    mistake = _common_mistake(args)
    if mistake:
        print(f"tinygrad-rnn {args.command}: error: {mistake} (see 'tinygrad-rnn {args.command} --help')",
              file=sys.stderr)
        return 2
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:                 # an OSError, but not one to report: main() ends quietly
        raise
    except (ValueError, TypeError, OSError, ArithmeticError, MemoryError) as err:   # one line, no traceback
        text = " ".join(line.strip() for line in str(err).splitlines() if line.strip()) or type(err).__name__
        if isinstance(err, MemoryError):
            text = f"not enough memory ({text}); try smaller sizes"
        print(f"tinygrad-rnn {args.command}: error: {text} (see 'tinygrad-rnn {args.command} --help')",
              file=sys.stderr)
        return 2


