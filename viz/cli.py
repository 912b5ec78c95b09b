"""The `tinygrad-rnn` command: the top of the house, so it may import the core and viz."""
import argparse
import sys

import tinygrad_rnn


def build_parser():
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tinygrad-rnn {tinygrad_rnn.__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
