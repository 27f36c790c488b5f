"""Writing results: the environment a run saw, Markdown tables, and sections of RESULTS.md.

Each workload owns one section of ``benchmarks/RESULTS.md``, between
``<!-- <name>:start -->`` and ``<!-- <name>:end -->``; writing a workload's
results replaces its section and leaves the others alone.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "command_line", "environment", "markdown_table", "ratio", "share", "write_section", "publish"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nWritten by `python -m benchmarks.run`; see `benchmarks/README.md`.\n"

#: Distributions whose versions a result depends on.
PACKAGES = (
    "wsrpc",
    "Django",
    "channels",
    "channels-redis",
    "daphne",
    "Twisted",
    "uvicorn",
    "uvloop",
    "websockets",
    "redis",
    "hiredis",
    "orjson",
)


def command_line(argv: Sequence[str]) -> str:
    """The command as a person would type it from the repository root."""
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    return shlex.join([python, "-m", "benchmarks.run", *argv])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(redis_version: str | None = None) -> dict[str, str]:
    """Date, machine and software versions, for the record."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    versions = ", ".join(f"{name} {v}" for name in PACKAGES if (v := _version(name)) is not None)
    if redis_version:
        versions += f", Redis server {redis_version}"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cores} cores (nproc), {_cpu_model()}, {platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
    }


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """A Markdown table; columns whose index is in ``right`` are right-aligned."""
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = [headers, rule, *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or add) the section ``name`` of the results file with ``body``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = f"{text.rstrip()}\n\n{section}\n"
    path.write_text(text if text.endswith("\n") else text + "\n")


def ratio(part: float, whole: float) -> str:
    """``part / whole`` to two places, or a dash when either is unknown."""
    return "–" if math.isnan(part) or math.isnan(whole) or not whole else f"{part / whole:.2f}"


def share(seconds: float | None, window: float) -> float:
    """The share of ``window`` that ``seconds`` is (NaN when unknown)."""
    return seconds / window if seconds is not None and window else float("nan")


def publish(name: str, section: str, output: str, results: Sequence[Any], what: str) -> int:
    """Print a workload's section, write it into ``output`` (unless empty), report failed series; the exit status."""
    print(section)
    if output:
        write_section(name, section, Path(output))
    failed = [s for s in results if s.failures]
    for s in failed:
        label = f"{s.peer.name} {s.mode}".strip()
        print(f"FAILED: {label}: {s.failures} {what}", file=sys.stderr, flush=True)
    return 1 if failed else 0
