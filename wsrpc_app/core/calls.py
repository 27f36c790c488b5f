"""Calling the peer by name: what the server's connection, the Python client and the test client share."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from .endpoint import Endpoint, ProgressCallback
from .protocol import params_of
from .types import JSON, Params, Timeout

__all__ = ["PeerCalls", "MethodProxy"]


class PeerCalls:
    """``call``, ``request``, ``notify``, ``batch`` and ``methods`` on the peer at the other end.

    A subclass says how to reach the peer (:meth:`_peer`, which may wait for
    a connection) and how long a call waits by default (``call_timeout``, in
    seconds; ``None`` waits forever). The time counts from the call, waiting
    for the connection included.
    """

    __slots__ = ()

    call_timeout: float | None

    async def _peer(self) -> Endpoint:
        """The endpoint to the peer, once there is one."""
        raise NotImplementedError

    @property
    def methods(self) -> MethodProxy:
        """``methods.calc.divide(1, 2)`` calls the peer's ``calc.divide``."""
        return MethodProxy(self)

    async def call(self, name: str, /, *args: JSON, progress: ProgressCallback | None = None, **kwargs: JSON) -> JSON:
        """Call ``name`` with positional or named arguments and return its result.

        Raises :class:`~wsrpc_app.core.errors.RpcError` (``code``, ``message``,
        ``data``) for an error reply, :class:`TimeoutError` after
        ``call_timeout`` and :class:`~wsrpc_app.core.errors.PeerDisconnected`
        when the connection drops before the reply. ``progress(value)``
        (sync or async) hears the method's ``rpc.progress`` reports; a method's
        own ``progress`` parameter is wsrpc's and never a JSON param, so the
        name cannot clash (:meth:`request` sends any params, that key too).
        A call that stops waiting (its timeout, or the awaiting task was
        cancelled) sends ``rpc.cancel``: the peer stops the method.
        """
        return await self.request(name, params_of(args, kwargs), progress=progress)

    async def request(
        self,
        name: str,
        params: Params | None = None,
        *,
        timeout: Timeout = ...,
        progress: ProgressCallback | None = None,
    ) -> JSON:
        """Like :meth:`call`, with the params given whole and an optional timeout in seconds."""
        async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
            peer = await self._peer()
            return await peer.call(name, params, timeout=None, progress=progress)

    async def notify(self, name: str, /, *args: JSON, **kwargs: JSON) -> None:
        """Send a notification: no reply, no error."""
        async with asyncio.timeout(self.call_timeout):
            peer = await self._peer()
        await peer.notify(name, params_of(args, kwargs))

    async def batch(self, calls: Iterable[tuple[str, Params | None]], *, timeout: Timeout = ...) -> list[JSON]:
        """Several calls in one batch frame; each entry is a result or an :class:`~wsrpc_app.core.errors.RpcError`."""
        async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
            peer = await self._peer()
            return await peer.call_batch(list(calls), timeout=None)


class MethodProxy:
    """Attribute access that names a method of the peer: ``proxy.calc.divide(1, 2)``."""

    __slots__ = ("_calls", "_name")

    def __init__(self, calls: PeerCalls, name: str = "") -> None:
        self._calls = calls
        self._name = name

    def __getattr__(self, name: str) -> MethodProxy:
        if name.startswith("__"):
            raise AttributeError(name)
        return MethodProxy(self._calls, f"{self._name}.{name}" if self._name else name)

    async def __call__(self, *args: JSON, **kwargs: JSON) -> JSON:
        return await self._calls.call(self._name, *args, **kwargs)
