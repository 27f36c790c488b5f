"""Running requests against a registry and turning outcomes into replies.

No I/O here: the transport hands in parsed messages and a context (the
calling connection) and gets encoded replies back. Blocking functions run
through the ``run_sync`` the transport supplies.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

from . import protocol
from .errors import InternalError, MethodNotFound, RpcError, TimedOut
from .protocol import Invalid, Request
from .registry import Registry
from .types import RunSync

__all__ = ["Dispatcher"]

logger = logging.getLogger("wsrpc")


async def _to_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(func, *args, **kwargs)


class Dispatcher:
    """Executes requests and encodes their replies.

    ``time_limit`` bounds each method call in seconds (``None``: no bound);
    ``debug`` puts exception text and tracebacks into -32603 replies.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        run_sync: RunSync = _to_thread,
        time_limit: float | None = None,
        debug: bool = False,
    ) -> None:
        self.registry = registry
        self.run_sync = run_sync
        self.time_limit = time_limit
        self.debug = debug

    async def answer(self, messages: list[Request | Invalid], context: Any, *, batch: bool) -> bytes | None:
        """Run the messages of one frame; the encoded reply, or None when nothing is owed.

        The requests of a batch run concurrently and are answered as one
        array; a batch of notifications gets no reply at all (section 6).
        """
        if not batch:
            return await self.reply(messages[0], context)
        if len(messages) == 1:
            replies = [await self.reply(messages[0], context)]
        else:
            replies = await asyncio.gather(*(self.reply(m, context) for m in messages))
        owed = [r for r in replies if r is not None]
        return protocol.join_batch(owed) if owed else None

    async def reply(self, message: Request | Invalid, context: Any) -> bytes | None:
        """The encoded reply to one message; None for a notification."""
        if isinstance(message, Invalid):
            return protocol.error_reply(message.id, message.error)
        try:
            result = await self.execute(message, context)
        except RpcError as error:
            if message.notification:
                logger.debug("notification %r failed: %r", message.method, error)
                return None
            return protocol.error_reply(message.id, error)
        if message.notification:
            return None
        return protocol.result_reply(message.id, result)

    async def execute(self, request: Request, context: Any) -> Any:
        """Call the method; every failure comes out as an :class:`RpcError`."""
        method = self.registry.get(request.method)
        if method is None:
            raise MethodNotFound(data={"method": request.method})
        args, kwargs = method.binder.bind(request.params, connection=context)
        try:
            if method.is_async:
                call = method.func(*args, **kwargs)
            else:
                call = self.run_sync(method.func, *args, **kwargs)
            if self.time_limit is None:
                return await call
            async with asyncio.timeout(self.time_limit):
                return await call
        except RpcError:
            raise
        except TimeoutError:
            raise TimedOut(data={"method": request.method}) from None
        except Exception as exc:
            logger.exception("method %r raised", request.method)
            raise self._internal_error(exc) from None

    def _internal_error(self, exc: BaseException) -> InternalError:
        if not self.debug:
            return InternalError()
        return InternalError(
            data={
                "exception": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exception(exc),
            }
        )
