"""The methods the demo exposes (listed in settings.WSRPC["METHODS"])."""

from __future__ import annotations

import asyncio
import datetime

from django.contrib.auth import get_user_model

from wsrpc_app import Connection, RpcError, RpcMethods, rpc_method


@rpc_method
async def add(a: int | float, b: int | float) -> int | float:
    """Add two numbers."""
    return a + b


@rpc_method
def echo(value: object) -> object:
    """Return what it was given."""
    return value


@rpc_method
def user_count() -> int:
    """How many users the site has: a sync method using the ORM in a worker thread."""
    return get_user_model().objects.count()


@rpc_method
async def slow_echo(value: object, seconds: float = 1.0) -> object:
    """Wait, then return the value: calls on one connection run concurrently."""
    await asyncio.sleep(min(max(seconds, 0.0), 10.0))
    return value


@rpc_method
def whoami(connection: Connection) -> dict[str, object]:
    """Who the server thinks is calling."""
    user = connection.user
    authenticated = bool(user is not None and user.is_authenticated)
    return {"authenticated": authenticated, "username": user.get_username() if authenticated else None}


@rpc_method
async def server_time() -> datetime.datetime:
    """The server's clock, in UTC."""
    return datetime.datetime.now(datetime.UTC)


@rpc_method
async def ask_browser(question: str, connection: Connection) -> dict[str, object]:
    """Call the browser's exposed ``answer(question)`` and report what it said."""
    reply = await connection.call("answer", question)
    return {"question": question, "answer": reply}


class Calculator(RpcMethods):
    """Arithmetic under the ``calc`` namespace."""

    namespace = "calc"

    def multiply(self, a: float, b: float) -> float:
        """Multiply two numbers."""
        return a * b

    def divide(self, a: float, b: float) -> float:
        """Divide a by b; dividing by zero answers an application error."""
        if b == 0:
            raise RpcError("Division by zero", code=-32010, data={"b": b})
        return a / b
