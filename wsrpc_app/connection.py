"""The calling peer, as a method sees it through its ``connection`` parameter."""

from __future__ import annotations

from types import EllipsisType
from typing import Any

from .endpoint import Endpoint, params_of
from .errors import RpcError
from .registry import Registry
from .types import Params

__all__ = ["Connection", "HttpConnection"]


class Connection:
    """One WebSocket connection: who is on it and how to call back into it.

    ``user`` and ``scope`` come from the ASGI scope; ``registry`` holds the
    methods this connection may call.
    """

    def __init__(self, scope: dict[str, Any], registry: Registry) -> None:
        self.scope = scope
        self.user = scope.get("user")
        self.registry = registry
        self.endpoint: Endpoint | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.user!r}>"

    def _endpoint(self) -> Endpoint:
        if self.endpoint is None:
            raise RpcError("This connection cannot be called back")
        return self.endpoint

    async def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call a method the client exposed and return its result.

        Raises :class:`RpcError` for an error reply and :class:`TimeoutError`
        when no reply comes within ``CALL_TIMEOUT``.
        """
        return await self._endpoint().call(name, params_of(args, kwargs))

    async def request(
        self,
        name: str,
        params: Params | None = None,
        *,
        timeout: float | None | EllipsisType = ...,  # noqa: ASYNC109 - the wait for the peer, default CALL_TIMEOUT
    ) -> Any:
        """Like :meth:`call`, with the params given whole and an optional timeout in seconds."""
        return await self._endpoint().call(name, params, timeout=timeout)

    async def notify(self, name: str, /, *args: Any, **kwargs: Any) -> None:
        """Send a notification to the client."""
        await self._endpoint().notify(name, params_of(args, kwargs))


class HttpConnection(Connection):
    """The caller of an HTTP JSON-RPC request: it cannot be called back."""

    def __init__(self, request: Any, registry: Registry) -> None:
        super().__init__(getattr(request, "scope", None) or {}, registry)
        self.user = request.user
        self.http_request = request

    def _endpoint(self) -> Endpoint:
        raise RpcError("Calls to the client are not available over HTTP")
