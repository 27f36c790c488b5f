"""Writing results: the environment a run saw, Markdown tables, and sections of RESULTS.md.

Each workload owns one section of ``benchmarks/RESULTS.md``, between
``<!-- <name>:start -->`` and ``<!-- <name>:end -->``; writing a workload's
results replaces its section and leaves the others alone.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .peers import VARIANTS
from .stats import Series

__all__ = [
    "RESULTS",
    "ceiling_median",
    "command_line",
    "environment",
    "heading",
    "history_pairs",
    "variant_pairs",
    "markdown_table",
    "node_versions",
    "on_off",
    "peer_list",
    "publish",
    "ratio",
    "share",
    "variant_section",
    "write_section",
]

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


#: Node.js packages whose name is also a Python distribution's.
_NODE_NAMES = {"redis": "node-redis"}


def node_versions(package: Path) -> str:
    """Node.js and the Socket.IO packages of the Node.js package ``package``, from its lockfile ('' if unknown)."""
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
        lock = json.loads((package / "package-lock.json").read_text())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return ""
    packages: dict[str, Any] = lock.get("packages", {})
    names = ("socket.io", "socket.io-client", "@socket.io/redis-streams-adapter", "redis")
    found = [
        f"{_NODE_NAMES.get(name, name)} {packages[f'node_modules/{name}']['version']}"
        for name in names
        if f"node_modules/{name}" in packages
    ]
    return ", ".join([f"Node.js {node.removeprefix('v')}", *found])


def heading(title: str, command: str, env: dict[str, str]) -> list[str]:
    """A section's first lines: its title, then when, how and on what it ran (``env``: :func:`environment`)."""
    return [
        f"## {title}",
        "",
        f"- Date: {env['date']}",
        f"- Command: `{command}`",
        f"- Machine: {env['machine']}; {env['python']}",
        f"- Versions: {env['versions']}",
    ]


def peer_list(peers: Iterable[Any]) -> list[str]:
    """The list of the peers that ran, each with its description."""
    return ["Peers:", "", *(f"- `{peer.name}`: {peer.description}" for peer in peers)]


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


def ceiling_median(series: Iterable[Series[Any]], quantity: Callable[[Any], float]) -> float:
    """The median of ``quantity`` over the runs of the ceiling peer among ``series`` (NaN when it did not run)."""
    ceiling = next((s for s in series if s.peer.ceiling), None)
    return ceiling.spread(quantity).median if ceiling is not None else float("nan")


def variant_pairs(results: Sequence[Series[Any]], variant: str) -> list[tuple[Series[Any], Series[Any]]]:
    """``(off, on)``: each series of a peer in ``variant`` only (a key of ``VARIANTS``) with the same peer's series
    of the same mode in no variant."""
    if variant not in VARIANTS:
        raise ValueError(f"no variant {variant!r}; known: {', '.join(VARIANTS)}")
    by_name = {(s.peer.name, s.mode): s for s in results}
    pairs = []
    for on in results:
        off = by_name.get((on.peer.base_name, on.mode)) if on.peer.variants == (variant,) else None
        if off is not None:
            pairs.append((off, on))
    return pairs


def on_off(off: Series[Any], on: Series[Any], quantity: Callable[[Any], float], digits: int = 0) -> list[str]:
    """Three cells: ``quantity`` over ``off``'s runs and over ``on``'s (median, min–max), and on ÷ off (medians)."""
    low, high = off.spread(quantity), on.spread(quantity)
    return [low.format(digits), high.format(digits), ratio(high.median, low.median)]


def variant_section(variant: str, what: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a "<Variant> on ÷ off" table (``what`` says what the variant does), none without ``rows``;
    columns from the third right-aligned."""
    if not rows:
        return []
    return [
        f"### {variant.capitalize()} on ÷ off",
        "",
        f"{what} Same servers, same sizes, medians.",
        "",
        markdown_table(headers, rows, right=range(2, len(headers))),
        "",
    ]


def history_pairs(results: Sequence[Series[Any]]) -> list[tuple[Series[Any], Series[Any]]]:
    """``(off, on)``: each ``<peer>+history`` series with the same peer's series of the same mode without history."""
    return variant_pairs(results, "history")


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
