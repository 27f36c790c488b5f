"""Run a benchmark workload against every peer and record the results.

Usage (from the repository root, Redis on 127.0.0.1:6379 or ``REDIS_URL``)::

    .venv/bin/python -m benchmarks.run fanout [--subscribers 500] [--events 200] [--history] [--presence] [--quick] ...
    .venv/bin/python -m benchmarks.run calls [--modes sequential,pipelined,concurrent] [--quick] ...
    .venv/bin/python -m benchmarks.run memory [--connections 2000] [--quick] ...
    .venv/bin/python -m benchmarks.run recovery [--subscribers 1000] [--events 200] [--quick] ...
    .venv/bin/python -m benchmarks.run chat [--rooms 100] [--members 4] [--messages 10] [--history] [--quick] ...
    .venv/bin/python -m benchmarks.run w1 --quick   # the issue's workload names: w1..w6

Each workload is a module with ``add_arguments(parser)`` and
``main(args, argv) -> int``, registered in :data:`WORKLOADS`; :data:`ALIASES`
maps the issue's names (``w1``..``w6``) to a workload and its options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from . import calls, chat, fanout, memory, recovery, report

__all__ = ["ALIASES", "WORKLOADS", "build_parser", "main"]

#: Workloads by command name.
WORKLOADS: dict[str, ModuleType] = {
    "calls": calls,
    "fanout": fanout,
    "memory": memory,
    "recovery": recovery,
    "chat": chat,
}

#: The issue's workload names: each is a workload with options put before the ones given.
ALIASES: dict[str, list[str]] = {
    "w1": ["calls", "--modes", "sequential"],
    "w2": ["calls", "--modes", "pipelined"],
    "w3": ["calls", "--modes", "concurrent"],
    "w4": ["fanout"],
    "w5": ["memory"],
    "w6": ["chat"],
}


def build_parser() -> argparse.ArgumentParser:
    aliases = ", ".join(f"{name} = {' '.join(expansion)}" for name, expansion in ALIASES.items())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0], epilog=f"Aliases: {aliases}."
    )
    commands = parser.add_subparsers(dest="workload", required=True, metavar="WORKLOAD")
    for name, module in WORKLOADS.items():
        sub = commands.add_parser(name, help=module.__doc__.splitlines()[0], description=module.__doc__)
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        module.add_arguments(sub)
        sub.add_argument(
            "--output",
            default=str(report.RESULTS),
            help="the Markdown file whose section for this workload is rewritten ('' to write nothing)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].lower() in ALIASES:
        argv = [*ALIASES[argv[0].lower()], *argv[1:]]
    args = build_parser().parse_args(argv)
    return int(WORKLOADS[args.workload].main(args, argv))


if __name__ == "__main__":
    sys.exit(main())
