"""The ``laketrace`` command line: ``demo``, ``tail`` (more verbs arrive with the flush step)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence


def _cmd_tail(args: argparse.Namespace) -> int:
    from ._tail import tail_records

    if not os.path.isdir(args.log_dir):
        print(
            f"laketrace tail: {args.log_dir!r} is not a directory. Pass the logger's log_dir "
            "with --log-dir (default: ./.laketrace/spool).",
            file=sys.stderr,
        )
        return 2
    color = None if not args.no_color else False
    tail_records(args.log_dir, args.n, logger=args.logger, level=args.level, color=color)
    if not args.follow:
        return 0
    from ._follow import follow

    try:
        follow(args.log_dir, logger=args.logger, level=args.level, color=color)
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laketrace",
        description="LakeTrace: structured logs from PySpark into Delta tables.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser("demo", help="run the end-to-end demo job")
    demo.add_argument("--workdir", default=".", help="where ./lakehouse and the spool go")
    demo.add_argument("--no-spark", action="store_true", help="run without Spark/Java")
    demo.set_defaults(func=_cmd_demo)

    tail = sub.add_parser("tail", help="print the last records of a spool directory")
    tail.add_argument("--log-dir", default=os.path.join(".laketrace", "spool"))
    tail.add_argument("-n", type=int, default=50, help="how many records (default 50)")
    tail.add_argument("--level", default=None, help="only records at or above this level")
    tail.add_argument("--logger", default=None, help="only records of this logger")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new records")
    tail.add_argument("--no-color", action="store_true")
    tail.set_defaults(func=_cmd_tail)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``laketrace`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:  # ConfigError and friends: the message teaches
        print(f"laketrace {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    t0 = time.time()
    sys.exit(main())
