"""The ``laketrace`` command line: demo, tail, flush, sql, report, vacuum, recover."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import LakeTraceError
from ..storage import StorageOptions, parse_option_args


def _cmd_tail(args: argparse.Namespace) -> int:
    from ..read.tail import tail_records

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
    from ..read.follow import follow

    try:
        follow(args.log_dir, logger=args.logger, level=args.level, color=color)
    except KeyboardInterrupt:
        pass
    return 0


def _spark_if(args: argparse.Namespace) -> object:
    if not getattr(args, "spark", False):
        return None
    from .spark_session import local_spark

    return local_spark("laketrace-cli")


def _storage(args: argparse.Namespace) -> StorageOptions:
    return parse_option_args(getattr(args, "storage_option", None))


def _cmd_flush(args: argparse.Namespace) -> int:
    from ..flush.run import flush_to_delta

    storage = _storage(args)
    result = flush_to_delta(
        _spark_if(args),
        log_dir=args.log_dir,
        path=args.path,
        table=args.table,
        batch_bytes=args.batch_mb * 1024 * 1024 if args.batch_mb else None,
        progress=True,
        storage_options=storage,
    )
    print(result)
    return 0


def _cmd_sql(args: argparse.Namespace) -> int:
    from ..read.query import format_table, query

    storage = _storage(args)
    spark = _spark_if(args)
    out = query(
        args.sql,
        path=args.path,
        table=args.table,
        spark=spark,
        storage_options=storage,
    )
    if spark is not None:
        out.show(args.max_rows, truncate=False)
    elif out is not None:
        print(format_table(out, max_rows=args.max_rows))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ..read.report import write_report

    storage = _storage(args)
    res = write_report(
        args.out,
        storage_options=storage,
        path=args.path,
        table=args.table,
        spark=_spark_if(args),
        runs=args.runs,
        top=args.top,
    )
    print(res)
    return 0


def _cmd_vacuum(args: argparse.Namespace) -> int:
    from ..read.vacuum import vacuum

    storage = _storage(args)
    res = vacuum(
        _spark_if(args),
        storage_options=storage,
        path=args.path,
        table=args.table,
        older_than=args.older_than,
        retain_hours=args.retain_hours,
    )
    print(
        f"deleted {res.deleted_rows:,} row(s) older than {res.cutoff.isoformat()}; "
        f"removed {res.removed_files if res.removed_files >= 0 else 'unreferenced'} file(s)"
    )
    return 0


def _cmd_recover(args: argparse.Namespace) -> int:
    from ..spool.recover import recover

    res = recover(args.log_dir)
    print(
        f"sealed {len(res.sealed)} abandoned file(s); removed {len(res.removed_duplicates)} "
        f"duplicate(s) and {len(res.removed_temp)} temp file(s); {len(res.live)} live file(s)"
    )
    return 0


def _target_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--path", default=None, help="Delta table location (default ./lakehouse/laketrace_logs)"
    )
    group.add_argument("--table", default=None, help="catalog table name (needs --spark)")
    p.add_argument("--spark", action="store_true", help="use a local SparkSession with Delta")
    p.add_argument(
        "--storage-option",
        action="append",
        metavar="KEY=VALUE",
        help="a delta-rs storage option for an abfss:// or s3:// table (repeat the flag; "
        "values are never printed), e.g. --storage-option account_name=myacct",
    )


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

    flush = sub.add_parser("flush", help="ship sealed spool files into a Delta table")
    flush.add_argument("--log-dir", required=True, help="the spool directory")
    flush.add_argument(
        "--batch-mb",
        type=int,
        default=None,
        help="max MB of spool files per Delta commit (default 1024 with Spark, 128 without)",
    )
    _target_args(flush)
    flush.set_defaults(func=_cmd_flush)

    sql = sub.add_parser(
        "sql",
        help="run SQL over the log table (tables: logs, logs_errors, logs_runs, logs_quarantine)",
    )
    sql.add_argument("sql")
    sql.add_argument("--max-rows", type=int, default=50)
    _target_args(sql)
    sql.set_defaults(func=_cmd_sql)

    rep = sub.add_parser(
        "report", help="write a self-contained HTML report (timelines, top errors, exceptions)"
    )
    rep.add_argument("--out", default="report.html", help="HTML file to write (report.html)")
    rep.add_argument("--runs", type=int, default=20, help="how many recent runs (default 20)")
    rep.add_argument("--top", type=int, default=10, help="top errors / exceptions shown (10)")
    _target_args(rep)
    rep.set_defaults(func=_cmd_report)

    vac = sub.add_parser("vacuum", help="delete old rows from the log table and vacuum it")
    vac.add_argument("--older-than", default="30 days", help='e.g. "30 days" (default)')
    vac.add_argument(
        "--retain-hours",
        type=int,
        default=168,
        help="keep unreferenced files this long (Delta time travel)",
    )
    _target_args(vac)
    vac.set_defaults(func=_cmd_vacuum)

    rec = sub.add_parser("recover", help="seal spool files left behind by dead processes")
    rec.add_argument("--log-dir", required=True)
    rec.set_defaults(func=_cmd_recover)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``laketrace`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, ImportError, LakeTraceError) as exc:  # the message teaches
        print(f"laketrace {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
