"""A Node.js client program driven over its stdin and stdout, one JSON object a line (the Socket.IO peer's clients).

The program gets its configuration as one JSON argument, prints
``{"ready": ...}`` once it is connected, takes commands a line at a time on
stdin, and, on ``report``, prints ``{"report": {...}}`` and exits. Any other
message it prints is ``{name: value}``, handed to the handler of that name.
Its clock, ``process.hrtime``, is CLOCK_MONOTONIC, as is
``time.perf_counter_ns`` here, so both sides' times compare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from .client import REPLY_TIMEOUT

__all__ = ["NodeClient"]

#: The longest line read from the program: a report carries every latency it measured.
LINE_LIMIT = 256 * 2**20


class NodeClient:
    """``node script config``, its messages dispatched to ``handlers`` by name."""

    def __init__(
        self,
        script: str,
        config: Mapping[str, Any],
        handlers: Mapping[str, Callable[[Any], None]],
        *,
        startup_timeout: float = 120.0,
    ) -> None:
        self.script = script
        self.config = config
        self.handlers = handlers
        self.startup_timeout = startup_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[Any] | None = None
        self._report: asyncio.Future[dict[str, Any]] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the program; return once it says it is ready."""
        self._process = await asyncio.create_subprocess_exec(
            "node",
            self.script,
            orjson.dumps(self.config).decode(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        loop = asyncio.get_running_loop()
        self._ready, self._report = loop.create_future(), loop.create_future()
        self._reader = asyncio.ensure_future(self._read())
        async with asyncio.timeout(self.startup_timeout):
            await self._ready

    async def _read(self) -> None:
        process, ready, report = self._process, self._ready, self._report
        assert process is not None and process.stdout is not None and ready is not None and report is not None
        async for line in process.stdout:
            ((name, value),) = orjson.loads(line).items()
            if name == "ready":
                ready.set_result(value)
            elif name == "report":
                report.set_result(value)
            else:
                self.handlers[name](value)
        await process.wait()
        for future, what in ((ready, "being ready"), (report, "reporting")):
            if not future.done():
                future.set_exception(RuntimeError(f"{self.script} exited ({process.returncode}) before {what}"))

    def send(self, command: str) -> None:
        """Send one command line."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(command.encode() + b"\n")

    async def wait(self, event: asyncio.Event) -> None:
        """Wait for ``event``; raise ConnectionError if the program exits first."""
        assert self._reader is not None
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait([waiter, self._reader], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not event.is_set():
            raise ConnectionError(f"{self.script} exited")

    async def stop(self) -> None:
        """Kill the program if it still runs (a run that failed)."""
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        for future in (self._ready, self._report):
            if future is not None and future.done() and not future.cancelled():
                future.exception()  # retrieved: the run's own error is the one to report

    async def report(self) -> dict[str, Any]:
        """Ask for the report and return it once the program exits (killed if it overstays)."""
        process, report = self._process, self._report
        assert process is not None and report is not None
        self.send("report")
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                counts = await report
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            if self._reader is not None:
                await self._reader
        return counts
