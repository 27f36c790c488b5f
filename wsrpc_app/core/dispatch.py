"""Running requests against a registry and turning outcomes into replies.

No I/O here: the transport hands in parsed messages and a caller (the
calling connection) and gets encoded replies back. Blocking functions run
through the ``run_sync`` the transport supplies.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterable

from . import eager, progress, protocol
from .errors import (
    InternalError,
    MethodNotFound,
    NotAuthenticated,
    PermissionDenied,
    RequestCancelled,
    RpcError,
    TimedOut,
)
from .protocol import Invalid, Request
from .registry import Method, Registry
from .types import JSON, Caller, Id, Params, RunSync

__all__ = ["Dispatcher", "RpcRequest", "Middleware", "Handler", "Observe", "current_method"]

logger = logging.getLogger("wsrpc")

#: The method of the request running in this context, for log records (``server.log_context``).
current_method: contextvars.ContextVar[str | None] = contextvars.ContextVar("wsrpc_method", default=None)

#: ``observe(method, code, seconds)`` hears each request answered: ``method`` None for an invalid one,
#: ``code`` 0 for a result (the server's metrics).
Observe = Callable[[str | None, int, float], None]


@dataclasses.dataclass(slots=True)
class RpcRequest:
    """One call as middlewares see it."""

    method: str
    params: Params | None
    id: Id
    notification: bool
    #: The caller (a ``wsrpc_app.Connection`` on the server).
    connection: Caller


#: ``await handler(request)`` runs the rest of the chain and the method.
Handler = Callable[[RpcRequest], Awaitable[JSON]]
#: ``async def middleware(request, handler)``: return ``await handler(request)``,
#: or a result of its own, or raise an :class:`RpcError`.
Middleware = Callable[[RpcRequest, Handler], Awaitable[JSON]]


#: A handler that is an ``async def``, as every link of the chain is.
_Link = Callable[[RpcRequest], Coroutine[object, object, JSON]]


def _wrap(middleware: Middleware, inner: Handler) -> _Link:
    async def handler(request: RpcRequest) -> JSON:
        return await middleware(request, inner)

    return handler


def _check_permissions(method: Method, caller: Caller) -> RpcError | None:
    for permission in method.permissions:
        if not permission.has_permission(caller, method):
            if not getattr(caller.user, "is_authenticated", False):
                return NotAuthenticated(data={"method": method.name})
            message = getattr(permission, "message", None)
            return PermissionDenied(message if isinstance(message, str) else None, data={"method": method.name})
    return None


async def _to_thread(func: Callable[..., JSON], *args: JSON, **kwargs: JSON) -> JSON:
    return await asyncio.to_thread(func, *args, **kwargs)


class Dispatcher:
    """Executes requests and encodes their replies.

    ``time_limit`` bounds each method call in seconds (``None``: no bound);
    ``debug`` puts exception text and tracebacks into -32603 replies;
    ``middlewares`` wrap every call, the first outermost; ``observe`` hears
    every outcome.
    """

    __slots__ = ("registry", "run_sync", "time_limit", "debug", "observe", "_refusals", "_chain")

    def __init__(
        self,
        registry: Registry,
        *,
        run_sync: RunSync = _to_thread,
        time_limit: float | None = None,
        debug: bool = False,
        middlewares: Iterable[Middleware] = (),
        observe: Observe | None = None,
    ) -> None:
        self.registry = registry
        self.observe = observe
        self.run_sync = run_sync
        self.time_limit = time_limit
        self.debug = debug
        self._refusals: dict[str, RpcError | None] = {}
        self._chain: _Link | None = None
        for middleware in reversed(list(middlewares)):
            self._chain = _wrap(middleware, self._chain or self._handle)

    async def answer(
        self,
        messages: list[Request | Invalid],
        caller: Caller,
        *,
        batch: bool,
        reply: Callable[[Request | Invalid], Awaitable[bytes | None]] | None = None,
    ) -> bytes | None:
        """Run the messages of one frame; the encoded reply, or None when nothing is owed.

        The requests of a batch run concurrently, each on a task of its own,
        and are answered as one array; a batch of notifications gets no reply
        at all (section 6). ``reply`` answers one message (by default
        :meth:`reply`): the endpoint's tracks it while it runs.
        """
        one = reply if reply is not None else functools.partial(self.reply, caller=caller)
        if not batch:
            return await one(messages[0])
        if len(messages) == 1:
            replies = [await one(messages[0])]
        else:
            replies = await asyncio.gather(*(one(m) for m in messages))
        owed = [r for r in replies if r is not None]
        return protocol.join_batch(owed) if owed else None

    async def reply(self, message: Request | Invalid, caller: Caller) -> bytes | None:
        """The encoded reply to one message; None for a notification."""
        if isinstance(message, Invalid):
            if self.observe is not None:
                self.observe(None, message.error.code, 0.0)
            return protocol.error_reply(message.id, message.error)
        # Reset after: async_to_sync (POST rpc/) copies the context back into the caller's thread.
        token = current_method.set(message.method)
        try:
            return await self._reply(message, caller)
        finally:
            current_method.reset(token)

    async def _reply(self, message: Request, caller: Caller) -> bytes | None:
        observe = self.observe
        started = time.perf_counter()
        try:
            result = await self.execute(message, caller)
        except RpcError as error:
            if observe is not None:
                observe(message.method, error.code, time.perf_counter() - started)
            if message.notification:
                logger.debug("notification %r failed: %r", message.method, error)
                return None
            return protocol.error_reply(message.id, error)
        except asyncio.CancelledError:  # rpc.cancel, or the connection closed
            if observe is not None:
                observe(message.method, int(RequestCancelled.default_code), time.perf_counter() - started)
            raise
        if observe is not None:
            observe(message.method, 0, time.perf_counter() - started)
        if message.notification:
            return None
        return protocol.result_reply(message.id, result)

    async def execute(self, request: Request, caller: Caller) -> JSON:
        """Call the method through the middlewares; every failure comes out as an :class:`RpcError`."""
        try:
            call: Coroutine[object, object, JSON]
            if self._chain is None:
                call = self._invoke(request.method, request.params, caller)
            else:
                rpc_request = RpcRequest(request.method, request.params, request.id, request.notification, caller)
                call = self._chain(rpc_request)
            if self.time_limit is None:
                return await call
            return await eager.within(call, self.time_limit)
        except RpcError:
            raise
        except TimeoutError:
            raise TimedOut(data={"method": request.method}) from None
        except Exception as exc:
            logger.exception("method %r raised", request.method)
            raise self._internal_error(exc) from None

    async def _handle(self, request: RpcRequest) -> JSON:
        return await self._invoke(request.method, request.params, request.connection)

    async def _invoke(self, name: str, params: Params | None, caller: Caller) -> JSON:
        method = self.registry.get(name)
        if method is None:
            raise MethodNotFound(data={"method": name})
        if method.permissions:
            refusal = await self.refusal(method, caller)
            if refusal is not None:
                raise refusal
        binder = method.binder
        reporter = progress.current() if binder.wants_progress else None
        args, kwargs = binder.bind(params, connection=caller, progress=reporter)
        if method.is_async:
            return await method.func(*args, **kwargs)
        # A thread cannot be interrupted: cancelled, the request stops waiting
        # for it at once and its result is dropped (asgiref's wrapper would
        # wait for the thread, and then swallow the cancellation).
        return await asyncio.shield(self.run_sync(method.func, *args, **kwargs))

    async def refusal(self, method: Method, caller: Caller) -> RpcError | None:
        """Why ``caller`` may not call ``method`` (None: it may); decided once per dispatcher."""
        if not method.permissions:
            return None
        if method.name not in self._refusals:
            self._refusals[method.name] = await self.run_sync(_check_permissions, method, caller)
        return self._refusals[method.name]

    def _internal_error(self, exc: BaseException) -> InternalError:
        if not self.debug:
            return InternalError()
        return InternalError(
            data={
                "exception": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exception(exc),
            }
        )
