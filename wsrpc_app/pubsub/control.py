"""Server code's hold on live connections, on every process: subscribe, unsubscribe, disconnect, call.

``asubscribe_user(user, topic)`` / ``aunsubscribe_user`` subscribe every
connection of a user, wherever it is, or end its subscription (the client
hears ``rpc.subscribed`` / ``rpc.unsubscribed``); ``adisconnect_user`` and
``adisconnect_connection`` close connections (code 4003 by default).
``acall_user`` calls a method of every connection of a user and returns one
outcome per connection; ``acall_connection`` calls one connection. Each has
a sync twin for views, signals, workers and management commands.

Orders travel through the channel layer (:mod:`.messages`) and are carried
out by the hub of the process that holds the connection (:mod:`.orders`).
Replies come back to the caller's hub; a call waits at most its timeout,
and its pending entry goes with it. A call to a user asks every living
process (:mod:`.presence_store`) which of its connections will answer; a
process killed less than ``PRESENCE_TTL`` ago cannot say: the call waits
for it at most ``PRESENCE_TTL`` seconds (or its timeout, if shorter).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable

import orjson

from ..acl.access import invalidate
from ..conf import wsrpc_settings
from ..core import protocol
from ..core.errors import CloseCode, PeerDisconnected, RpcError
from ..core.topics import validate_pattern
from ..core.types import JSON, JSONObject, Params, Timeout
from .attendance import presence_ttl
from .hub import Hub
from .messages import ReplyMessage, command_message, process_group, user_group
from .process import channel_layer, get_hub, presence_store
from .publishing import abroadcast_control, run_on_loop
from .targets import GONE, TIMEOUT, Gathering, Narrowing, marker_of

__all__ = [
    "asubscribe_user",
    "subscribe_user",
    "aunsubscribe_user",
    "unsubscribe_user",
    "adisconnect_user",
    "disconnect_user",
    "adisconnect_connection",
    "disconnect_connection",
    "acall_user",
    "call_user",
    "acall_connection",
    "call_connection",
    "arefresh_permissions",
    "refresh_permissions",
    "aconnections",
    "connections",
    "Outcome",
]

#: What one connection answered a call: its result, or the exception that says why there is none
#: (:class:`RpcError` for an error reply, :class:`TimeoutError`, :class:`PeerDisconnected`).
Outcome = JSON | Exception

DISCONNECTED_REASON = "disconnected by the server"


def user_key(user: object) -> str:
    """The key of a user's group: a user object or its primary key."""
    return str(getattr(user, "pk", user))


async def _to_user(user: object, action: str, args: dict[str, object]) -> None:
    key = user_key(user)
    group = user_group(key)
    await channel_layer().group_send(group, command_message(group, action, args, user=key))


async def asubscribe_user(user: object, topic: str) -> None:
    """Subscribe every connection of ``user``, on every process, to ``topic`` (a topic or pattern).

    Permissions are not checked, and permission changes leave the
    subscription alone: server code ends it (:func:`aunsubscribe_user`).
    The client receives ``rpc.subscribed`` ``{"topic", ...}``. Raises
    :class:`~wsrpc_app.core.errors.NoSuchTopic` for an invalid name.
    """
    await _to_user(user, "subscribe", {"topic": validate_pattern(topic)})


async def aunsubscribe_user(user: object, topic: str) -> None:
    """End the subscription of every connection of ``user`` to ``topic``; the client receives ``rpc.unsubscribed``."""
    await _to_user(user, "unsubscribe", {"topic": validate_pattern(topic)})


async def adisconnect_user(
    user: object,
    code: int = CloseCode.DISCONNECTED,
    reason: str = DISCONNECTED_REASON,
    *,
    narrowing: Narrowing | None = None,
) -> None:
    """Close every connection of ``user`` on every process with ``code`` (4003) and ``reason``.

    ``narrowing`` limits it to the connections of one session or token.
    """
    args: dict[str, object] = {"code": _close_code(code), "reason": str(reason)}
    await _to_user(user, "close", args | (narrowing or Narrowing()).as_args())


async def adisconnect_connection(
    connection: str, code: int = CloseCode.DISCONNECTED, reason: str = DISCONNECTED_REASON
) -> None:
    """Close the connection with this id, wherever it is. ValueError for a string that is no connection id."""
    group = process_group(marker_of(connection))
    args: dict[str, object] = {"code": _close_code(code), "reason": str(reason)}
    await channel_layer().group_send(group, command_message(group, "close", args, connection=connection))


def _close_code(code: int) -> int:
    # What a server may send in a close frame (RFC 6455 section 7.4): 1000, or 3000-4999.
    code = int(code)
    if code != CloseCode.NORMAL and not 3000 <= code <= 4999:
        raise ValueError(f"close code {code} is not 1000 nor in 3000-4999")
    return code


# Calls --------------------------------------------------------------------------


def _call_args(
    method: str, args: tuple[JSON, ...], kwargs: dict[str, JSON], timeout: float | None
) -> dict[str, object]:
    params: Params | None = protocol.params_of(args, kwargs)
    return {
        "method": method,
        "params": protocol.encode(params).decode() if params is not None else None,
        "timeout": timeout,
    }


def _timeout(timeout: Timeout) -> float | None:
    value = wsrpc_settings.CALL_TIMEOUT if timeout is ... else timeout
    return float(value) if value is not None else None


def _outcome(reply: ReplyMessage) -> Outcome:
    """A connection's answer as :func:`acall_user` returns it."""
    if "result" in reply:
        result: JSON = orjson.loads(reply["result"])
        return result
    if "error" in reply:
        return RpcError.from_object(orjson.loads(reply["error"]))
    if reply.get("outcome") == TIMEOUT:
        return TimeoutError("the client did not answer in time")
    if reply.get("outcome") == GONE:
        return PeerDisconnected("the connection is gone")
    return RpcError.from_object(None)


async def _living() -> list[str]:
    store = presence_store()
    if store is None:
        raise RuntimeError("calls to connections need the in-memory or a Redis channel layer")
    return await store.processes()


class _Waiting:
    """A call's entry in its hub's table: filed on entry, removed on exit, whatever happens."""

    def __init__(self, hub: Hub, receive: Callable[[ReplyMessage], None]) -> None:
        self.hub = hub
        self.id = secrets.token_hex(8)
        self.receive = receive

    def __enter__(self) -> _Waiting:
        self.hub.calls[self.id] = self.receive
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.hub.calls.pop(self.id, None)

    async def send(
        self,
        marker: str,
        args: dict[str, object],
        *,
        user: str | None = None,
        connection: str | None = None,
        action: str = "call",
    ) -> None:
        """Order the process ``marker`` to make this call, to one ``connection`` or to the ``user``'s there."""
        group = process_group(marker)
        order = command_message(
            group, action, args, user=user, connection=connection, reply_to=self.hub.group, call=self.id
        )
        await channel_layer().group_send(group, order)


async def acall_connection(
    connection: str, method: str, /, *args: JSON, timeout: Timeout = ..., **kwargs: JSON
) -> JSON:
    """Call ``method`` of the client of one connection, wherever it is, and return its result.

    Raises :class:`RpcError` for an error reply, :class:`TimeoutError` past
    ``timeout`` seconds (``CALL_TIMEOUT`` by default; None waits for ever),
    :class:`PeerDisconnected` when there is no such connection or it closes
    first, and ValueError for a string that is no connection id.
    """
    marker = marker_of(connection)
    seconds = _timeout(timeout)
    hub = await get_hub()
    answered: asyncio.Future[ReplyMessage] = asyncio.get_running_loop().create_future()

    def receive(reply: ReplyMessage) -> None:
        if not answered.done() and reply.get("connection") == connection:
            answered.set_result(reply)

    with _Waiting(hub, receive) as call:
        async with asyncio.timeout(seconds):
            if marker not in await _living():
                raise PeerDisconnected("the connection is gone")
            await call.send(marker, _call_args(method, args, kwargs, seconds), connection=connection)
            outcome = _outcome(await answered)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def acall_user(
    user: object, method: str, /, *args: JSON, timeout: Timeout = ..., **kwargs: JSON
) -> dict[str, Outcome]:
    """Call ``method`` of every connection of ``user``, on every process; one outcome per connection id.

    An outcome is the connection's result, or the exception that stands for
    it: :class:`RpcError` (its error reply), :class:`TimeoutError` (no answer
    within ``timeout`` seconds, ``CALL_TIMEOUT`` by default),
    :class:`PeerDisconnected` (it closed before answering). A user with no
    connection gets ``{}``.
    """
    seconds = _timeout(timeout)
    hub = await get_hub()
    key = user_key(user)
    processes = await _living()
    gathering: Gathering[Outcome] = Gathering(set(processes))
    complete = asyncio.Event()

    def receive(reply: ReplyMessage) -> None:
        connections, process = reply.get("connections"), reply.get("process")
        if connections is not None and process is not None:
            gathering.announce(process, connections)
        elif "connection" in reply:
            gathering.answer(reply["connection"], _outcome(reply))
        if gathering.done:
            complete.set()

    def give_up_on_silent_processes() -> None:
        # A process that has not said which connections will answer by now died since it was
        # last heard of: its entry in the store is about to expire.
        gathering.processes.clear()
        if gathering.done:
            complete.set()

    watchdog = asyncio.get_running_loop().call_later(presence_ttl(), give_up_on_silent_processes)
    with _Waiting(hub, receive) as call:
        try:
            async with asyncio.timeout(seconds):
                for marker in processes:
                    await call.send(marker, _call_args(method, args, kwargs, seconds), user=key)
                if not gathering.done:
                    await complete.wait()
        except TimeoutError:
            pass
        finally:
            watchdog.cancel()
    return gathering.outcomes(lambda: TimeoutError("the client did not answer in time"))


async def aconnections(timeout: float = 2.0) -> list[JSONObject]:
    """Every live connection on every process, described: id, user, info, since, subscriptions, process.

    Processes that do not answer within ``timeout`` seconds are left out.
    """
    hub = await get_hub()
    processes = set(await _living())
    found: dict[str, list[JSONObject]] = {}
    complete = asyncio.Event()

    def receive(reply: ReplyMessage) -> None:
        process, result = reply.get("process"), reply.get("result")
        if process is not None and result is not None:
            described = orjson.loads(result)
            found[process] = [item for item in described if isinstance(item, dict)]
        if processes <= set(found):
            complete.set()

    with _Waiting(hub, receive) as call:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                for marker in processes:
                    await call.send(marker, {}, action="describe")
                if processes:
                    await complete.wait()
    return sorted((item for items in found.values() for item in items), key=lambda item: str(item.get("connection")))


async def arefresh_permissions() -> None:
    """The facts behind ``TOPIC_RULES`` changed: every process forgets its decisions and rechecks its subscriptions.

    Subscriptions no longer allowed end with ``rpc.unsubscribed``, as when a
    ``Topic`` row changes.
    """
    invalidate()
    await abroadcast_control("permissions")


# Sync twins ----------------------------------------------------------------------


def subscribe_user(user: object, topic: str) -> None:
    """Sync :func:`asubscribe_user`."""
    run_on_loop(asubscribe_user, user, topic)


def unsubscribe_user(user: object, topic: str) -> None:
    """Sync :func:`aunsubscribe_user`."""
    run_on_loop(aunsubscribe_user, user, topic)


def disconnect_user(
    user: object,
    code: int = CloseCode.DISCONNECTED,
    reason: str = DISCONNECTED_REASON,
    *,
    narrowing: Narrowing | None = None,
) -> None:
    """Sync :func:`adisconnect_user`."""
    run_on_loop(adisconnect_user, user, code, reason, narrowing=narrowing)


def disconnect_connection(
    connection: str, code: int = CloseCode.DISCONNECTED, reason: str = DISCONNECTED_REASON
) -> None:
    """Sync :func:`adisconnect_connection`."""
    run_on_loop(adisconnect_connection, connection, code, reason)


def call_user(user: object, method: str, /, *args: JSON, timeout: Timeout = ..., **kwargs: JSON) -> dict[str, Outcome]:
    """Sync :func:`acall_user`."""
    return run_on_loop(acall_user, user, method, *args, timeout=timeout, **kwargs)


def call_connection(connection: str, method: str, /, *args: JSON, timeout: Timeout = ..., **kwargs: JSON) -> JSON:
    """Sync :func:`acall_connection`."""
    return run_on_loop(acall_connection, connection, method, *args, timeout=timeout, **kwargs)


def refresh_permissions() -> None:
    """Sync :func:`arefresh_permissions`."""
    run_on_loop(arefresh_permissions)


def connections(timeout: float = 2.0) -> list[JSONObject]:
    """Sync :func:`aconnections`."""
    return run_on_loop(aconnections, timeout)
