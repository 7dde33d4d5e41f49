"""Command line: ``fastloss demo`` (or ``python -m fastloss demo``) trains a small
network with `fastloss.nn`; ``fastloss config`` prints the build and run-time
configuration; ``fastloss --version`` the version."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _prog() -> str:
    """How the user ran us: ``python -m fastloss`` or the ``fastloss`` script."""
    if os.path.basename(sys.argv[0]) == "__main__.py":
        return "python -m fastloss"
    return "fastloss"


def build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser and the ``demo`` subcommand's parser."""
    from . import _demo
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog=_prog(), description="fastloss: fused loss-and-gradient kernels"
    )
    parser.add_argument(
        "--version", action="version", version=f"fastloss {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="train a dense network on a scikit-learn data set with fastloss.nn",
        description=_demo.DESCRIPTION,
        epilog=_demo.EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _demo.add_arguments(demo)
    sub.add_parser("config", help="print the build and run-time configuration")
    return parser, demo


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default ``sys.argv[1:]``); returns the
    exit code. Bad options exit with status 2 (argparse's ``SystemExit``)."""
    parser, demo = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "config":
            from ._config import show_config

            show_config()
            return 0
        from ._demo import run

        return run(args, demo)
    except BrokenPipeError:
        # The reader went away (``fastloss demo | head``): stop quietly, as
        # cat does; point stdout at devnull so the flush at exit cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
