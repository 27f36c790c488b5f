"""Reading ``py-spy record --format raw`` output: where a server's time went.

Each line of the file is one stack, outermost frame first, frames joined by
``;`` and the sample count last: ``main (x.py:3);run (y.py:9) 42``. Stacks
that are importing a module (start-up, mostly) are left out, so what remains
is the server at work.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Profile"]

#: Frames of the event loop itself: inclusive times count what runs below them.
_LOOP = {"Runner.run", "BaseEventLoop.run_forever", "BaseEventLoop._run_once", "Handle._run", "run_until_complete"}
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _area(path: str) -> str:
    """The package a source file belongs to (``channels_redis``, ``wsrpc_app``, ``asyncio``...).

    py-spy already writes paths relative to ``sys.path`` (``redis/asyncio/client.py``,
    ``dataclasses.py``); absolute ones are cut after ``site-packages``.
    """
    if path.startswith("<"):
        return path  # <frozen importlib._bootstrap> and the like
    path = path.rsplit("site-packages/", 1)[-1]
    parts = Path(path).parts
    for known in ("wsrpc_app", "benchmarks", "tests", "demo_project"):
        if known in parts:
            return known
    return parts[0].removesuffix(".py") if parts else path


class Profile:
    """Samples by function (self and inclusive) and by package, from one or more raw files."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.total = 0
        self.importing = 0
        self.own: collections.Counter[str] = collections.Counter()
        self.inclusive: collections.Counter[str] = collections.Counter()
        self.areas: collections.Counter[str] = collections.Counter()
        for path in paths:
            self._read(path)

    def _read(self, path: Path) -> None:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            if "_find_and_load" in stack:
                self.importing += count
                continue
            frames = [self._name(frame) for frame in stack.split(";")]
            self.total += count
            function, area = frames[-1]
            self.own[function] += count
            self.areas[area] += count
            names = [name for name, _ in frames]
            below = max((i for i, name in enumerate(names) if name.split(" (", 1)[0] in _LOOP), default=-1)
            for name in set(names[below + 1 :]):
                self.inclusive[name] += count

    @staticmethod
    def _name(frame: str) -> tuple[str, str]:
        match = _FRAME.match(frame.strip())
        if match is None:
            return frame.strip(), "?"
        path = match["file"]
        return f"{match['function']} ({path.rsplit('site-packages/', 1)[-1]})", _area(path)

    def markdown(self, top: int = 20) -> str:
        """Tables of the busiest packages and functions, in % of samples."""
        if not self.total:
            return "no samples"

        def table(title: str, counter: collections.Counter[str]) -> list[str]:
            rows = [f"| {name} | {count / self.total:.1%} |" for name, count in counter.most_common(top)]
            return [f"| {title} | share |", "| --- | ---: |", *rows, ""]

        return "\n".join(
            [
                f"{self.total} samples of busy time (py-spy skips idle threads; {self.importing} samples "
                "spent importing are left out).",
                "",
                "Self time of the event loop's own frame (`Runner.run` under uvloop) is the loop's C code: "
                "polling, socket reads and writes.",
                "",
                *table("package (self time)", self.areas),
                *table("function (self time)", self.own),
                *table("function (inclusive, below the event loop)", self.inclusive),
            ]
        )
