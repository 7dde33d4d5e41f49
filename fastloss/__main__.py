"""Command line: ``python -m fastloss demo`` or ``python -m fastloss config``."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastloss")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fused softmax cross-entropy vs plain NumPy")
    demo.add_argument("--batch", type=int, default=8)
    demo.add_argument("--seq", type=int, default=256)
    demo.add_argument("--vocab", type=int, default=32000)
    demo.add_argument("--seed", type=int, default=0)
    sub.add_parser("config", help="print the build and run-time configuration")
    args = parser.parse_args(argv)
    if args.command == "config":
        from ._config import show_config

        show_config()
        return 0
    from ._demo import run

    return run(batch=args.batch, seq=args.seq, vocab=args.vocab, seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
