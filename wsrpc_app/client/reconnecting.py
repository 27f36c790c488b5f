"""The Python client: calls, events and server-to-client calls over one WebSocket.

::

    async with WsRpcClient("ws://127.0.0.1:8000/ws/rpc/", methods={"confirm": confirm}) as client:
        assert await client.call("add", 1, 2) == 3
        assert await client.methods.calc.multiply(a=2, b=3) == 6
        await client.subscribe("chat.lobby", lambda data, event: print(data))
        await client.publish("chat.lobby", {"text": "hi"})

    async with WsRpcClient(url, on_gap=lambda gap: refetch(gap.topic)) as client:
        await client.subscribe("prices.eur", on_price, rewind=1)   # the last price, then every new one

It drives the same protocol core as the server (:class:`~wsrpc_app.core.endpoint.Endpoint`), and calls
through the same :class:`~wsrpc_app.core.calls.PeerCalls` as the server's connection: the
server may call the methods given in ``methods`` while calls to it are in
flight, and they run concurrently. The connection is re-established with a
tenacity retry policy (jittered exponential backoff by default) and every
subscription is renewed; an HTTP 401 or 403 at the handshake is fatal and
never retried. A topic with history is renewed ``since`` the last event
handed on, and what was missed meanwhile reaches the same callbacks first,
each event once (:mod:`wsrpc_app.client.recovery`); ``on_gap`` hears of
what could not be recovered. Built on the ``websockets`` library, whose ping/pong
keepalive detects half-open connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import tenacity
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..core.callbacks import Callbacks
from ..core.calls import PeerCalls
from ..core.dispatch import Dispatcher
from ..core.endpoint import Endpoint
from ..core.errors import PeerDisconnected, RpcError
from ..core.registry import Method, Registry
from ..core.types import JSON, JSONObject, Params
from .proxies import ProxyError, ProxyRefused, ProxySetting, ProxyUnreachable, proxy_for, through_proxy
from .recovery import Gap, Outcome, Position, Subscription

__all__ = [
    "WsRpcClient",
    "RpcError",
    "PeerDisconnected",
    "HandshakeRefused",
    "ProxyError",
    "ProxyRefused",
    "ProxyUnreachable",
    "EventCallback",
    "GapCallback",
    "PresenceCallback",
]

logger = logging.getLogger("wsrpc.client")

#: ``callback(data, event)``: ``event`` is the whole ``rpc.event`` params
#: (``topic``, ``data``, and ``subscription`` for a pattern). Sync or async.
EventCallback = Callable[[JSON, JSONObject], Awaitable[None] | None]

#: ``callback(topic, client)``: another connection joined or left a topic with join/leave events;
#: ``client`` is as ``rpc.presence`` lists it (``connection``, ``user``, ``user_id``, ``info``). Sync or async.
PresenceCallback = Callable[[str, JSONObject], Awaitable[None] | None]

#: ``callback(gap)``: events of ``gap.topic`` were missed and will not come
#: (a renewed subscription answered ``recovered: false``, or ``rpc.gap``
#: arrived): the application refetches what it shows. Sync or async.
GapCallback = Callable[[Gap], Awaitable[None] | None]

#: Handshake statuses that mean "you may not", where retrying cannot help.
FATAL_STATUSES = frozenset({401, 403})


class HandshakeRefused(ConnectionError):
    """The server refused the WebSocket handshake with 401 or 403: not retried."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the server refused the connection with HTTP {status}")
        self.status = status


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, InvalidStatus):
        return exc.response.status_code not in FATAL_STATUSES
    return isinstance(exc, OSError | TimeoutError | ConnectionClosed | InvalidStatus) or (
        type(exc).__module__.startswith("websockets")
    )


class WsRpcClient(PeerCalls):
    """A JSON-RPC 2.0 client over a WebSocket, usable as an async context manager.

    ``methods`` are what the server may call: a mapping of names to
    functions, or entries as in ``WSRPC["METHODS"]`` (functions,
    ``RpcMethods`` subclasses, modules, or their dotted paths). A method
    with a ``connection`` parameter receives this client.

    ``retry`` is a tenacity ``AsyncRetrying`` keyword set (``wait``,
    ``stop``, ``before_sleep``...) for (re)connecting; by default jittered
    exponential backoff from ``0.1`` s up to ``30`` s, forever.
    ``on_state`` hears ``connecting``, ``open``, ``reconnecting``,
    ``closed``; ``on_gap`` gets a :class:`~wsrpc_app.client.recovery.Gap`
    whenever events of a subscribed topic were missed for good.

    Presence: ``info`` is what the client declares about itself on every
    connection (a JSON object, sent as ``?info=``, listed by ``rpc.presence``);
    ``on_join`` / ``on_leave`` hear ``rpc.join`` / ``rpc.leave`` of topics
    with join/leave events; :meth:`info`, :meth:`presence` and
    :meth:`presence_stats` ask the server. ``on_subscribed(topic)`` hears
    that server code subscribed this connection (``subscribe_user``): call
    :meth:`subscribe` with a callback to receive its events.

    ``proxy``: by default the standard environment (``https_proxy``,
    ``http_proxy``, ``no_proxy``...) decides whether the connection goes
    through an HTTP proxy; a URL (``http://user:password@host:3128``) names
    one, ``None`` goes direct (:mod:`wsrpc_app.client.proxies`). A proxy
    that is unreachable or refuses raises :class:`ProxyError`, retried like
    any failed connection.

    Long calls: ``call(..., progress=callback)`` (or ``request(name,
    params, progress=callback)``) hears the method's ``rpc.progress``
    reports; a call past ``call_timeout``, or whose awaiting task is
    cancelled, sends ``rpc.cancel`` so the server stops the method. A method
    in ``methods`` that the server cancels sees :class:`asyncio.CancelledError`
    and is answered -32800; one with a ``progress`` parameter reports to the
    server, at most ``progress_rate`` times a second (the latest kept).
    """

    def __init__(
        self,
        url: str,
        *,
        methods: Mapping[str, Callable[..., object]] | Iterable[object] | None = None,
        headers: Mapping[str, str] | None = None,
        reconnect: bool = True,
        retry: Mapping[str, object] | None = None,
        on_state: Callable[[str], None] | None = None,
        on_gap: GapCallback | None = None,
        info: Mapping[str, JSON] | None = None,
        on_join: PresenceCallback | None = None,
        on_leave: PresenceCallback | None = None,
        on_subscribed: Callable[[str], Awaitable[None] | None] | None = None,
        proxy: ProxySetting = True,
        # Timeouts
        call_timeout: float | None = 30.0,
        open_timeout: float | None = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        heartbeat_interval: float | None = 30.0,
        # Limits
        max_message_bytes: int | None = 16 * 1024 * 1024,
        max_in_flight: int | None = 64,
        progress_rate: float | None = 20.0,
        **connect_options: Any,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.reconnect = reconnect
        self.retry_options: dict[str, Any] = {
            "wait": tenacity.wait_random_exponential(multiplier=0.1, max=30.0),
            "stop": tenacity.stop_never,
            **(retry or {}),
        }
        self.on_state = on_state
        self.on_gap = on_gap
        self.client_info = dict(info) if info is not None else None
        self.on_join = on_join
        self.on_leave = on_leave
        self.on_subscribed = on_subscribed
        self.proxy = proxy
        self.call_timeout = call_timeout
        self.heartbeat_interval = heartbeat_interval
        self.max_in_flight = max_in_flight
        self.progress_rate = progress_rate
        self.connect_options = {
            "open_timeout": open_timeout,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "max_size": max_message_bytes,
            **connect_options,
        }
        self.registry = self._registry(methods)
        #: topic or pattern -> what the client remembers of it (accepted by the server or not yet)
        self._subscriptions: dict[str, Subscription[EventCallback]] = {}
        #: topic or pattern -> done once the server's first answer came (or the subscription failed)
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self.state = "closed"
        self._websocket: ClientConnection | None = None
        self._endpoint: Endpoint | None = None
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._callbacks = Callbacks()
        self._closing = False

    #: What methods the server calls see as their caller's: no Django user here.
    user: object = None
    scope: Mapping[str, object] = MappingProxyType({})

    @staticmethod
    def _registry(methods: Mapping[str, Callable[..., object]] | Iterable[object] | None) -> Registry:
        if methods is None:
            return Registry()
        if isinstance(methods, Mapping):
            return Registry(Method.from_callable(name, func, name) for name, func in methods.items())
        return Registry.from_entries(methods)

    # Lifecycle --------------------------------------------------------------

    async def __aenter__(self) -> WsRpcClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection (retrying per the policy) and keep it open until :meth:`close`.

        Raises :class:`HandshakeRefused` at once for a 401 or 403.
        """
        if self._supervisor is None:
            self._closing = False
            websocket = await self._open()
            self._supervisor = asyncio.ensure_future(self._supervise(websocket))
        await self._peer()

    async def close(self) -> None:
        """Close the connection and stop reconnecting; pending calls fail at once."""
        self._closing = True
        supervisor, self._supervisor = self._supervisor, None
        if self._websocket is not None:
            await self._websocket.close()
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        await asyncio.gather(*self._callbacks.cancel(), return_exceptions=True)
        self._set_state("closed")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:
                logger.exception("on_state callback failed")

    async def _open(self) -> ClientConnection:
        self._set_state("connecting" if self.state == "closed" else "reconnecting")
        try:
            async for attempt in tenacity.AsyncRetrying(
                retry=tenacity.retry_if_exception(_retryable), reraise=True, **self.retry_options
            ):
                with attempt:
                    return await self._connect_once()
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in FATAL_STATUSES:
                self._set_state("closed")
                raise HandshakeRefused(status) from exc
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _connect_once(self) -> ClientConnection:
        proxy = proxy_for(self.url, self.proxy)
        try:
            return await connect(self._url(), additional_headers=self.headers, proxy=proxy, **self.connect_options)
        except Exception as exc:
            error = through_proxy(exc, self.url, proxy)
            if error is None:
                raise
            raise error from exc

    def _url(self) -> str:
        """The URL, with the declared client info in the query string (``info``)."""
        if self.client_info is None:
            return self.url
        separator = "&" if urllib.parse.urlsplit(self.url).query else "?"
        return f"{self.url}{separator}info={urllib.parse.quote(json.dumps(self.client_info, separators=(',', ':')))}"

    async def _supervise(self, websocket: ClientConnection) -> None:
        while True:
            await self._serve(websocket)
            if self._closing or not self.reconnect:
                self._set_state("closed")
                return
            try:
                websocket = await self._open()
            except Exception:
                logger.exception("giving up reconnecting to %s", self.url)
                self._set_state("closed")
                return

    async def _serve(self, websocket: ClientConnection) -> None:
        self._websocket = websocket
        endpoint = Endpoint(
            websocket.send,
            Dispatcher(self.registry),
            self,
            max_in_flight=self.max_in_flight,
            call_timeout=self.call_timeout,
            progress_rate=self.progress_rate,
            inline={
                "rpc.event": self._on_event,
                "rpc.gap": self._on_gap,
                "rpc.unsubscribed": self._on_unsubscribed,
                "rpc.join": self._on_join,
                "rpc.leave": self._on_leave,
                "rpc.subscribed": self._on_server_subscribed,
            },
        )
        self._endpoint = endpoint
        reader = asyncio.ensure_future(self._read(websocket, endpoint))
        heartbeat = asyncio.ensure_future(self._heartbeat(endpoint))
        try:
            if await self._resubscribe(endpoint):
                self._set_state("open")
                self._connected.set()
            else:
                await websocket.close()  # a renewal got no answer: the next connection renews them all
            await reader
        finally:
            self._connected.clear()
            for task in (reader, heartbeat):
                task.cancel()
            await asyncio.gather(reader, heartbeat, return_exceptions=True)
            await endpoint.close()
            self._endpoint = None
            self._websocket = None
            if not self._closing:
                self._set_state("reconnecting")

    async def _read(self, websocket: ClientConnection, endpoint: Endpoint) -> None:
        try:
            async for frame in websocket:
                await endpoint.receive(frame)
        except ConnectionClosed as exc:
            logger.info("connection to %s closed: %s", self.url, exc)
        # Calls in flight fail now, also the renewals that opening the connection waits for.
        await endpoint.close()

    async def _heartbeat(self, endpoint: Endpoint) -> None:
        # The websockets ping/pong never reaches the server's application;
        # an rpc.ping notification does, so the server's IDLE_TIMEOUT sees a live client.
        if self.heartbeat_interval is None:
            return
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await endpoint.notify("rpc.ping")
            except PeerDisconnected:
                return

    async def _resubscribe(self, endpoint: Endpoint) -> bool:
        """Renew every subscription on a new connection; false when one got no answer on it."""
        renewals = [self._renew(endpoint, sub) for sub in self._subscriptions.values() if sub.confirmed]
        return all(await asyncio.gather(*renewals))

    async def _renew(self, endpoint: Endpoint, sub: Subscription[EventCallback]) -> bool:
        """Subscribe again on a new connection: ``since`` the position when there is one."""
        since = sub.position is not None
        sub.hold()
        try:
            result = await endpoint.call("rpc.subscribe", sub.subscribe_params())
        except RpcError as error:
            sub.release()
            logger.warning("could not renew the subscription to %r: %s", sub.name, error)
            self._forget(sub)
            return True
        except (PeerDisconnected, TimeoutError) as error:
            self._hand_on(sub, sub.release())
            logger.warning("no answer renewing the subscription to %r: %r", sub.name, error)
            return False
        except BaseException:
            self._hand_on(sub, sub.release())
            raise
        self._hand_on(sub, sub.subscribed(result, since=since) + sub.release())
        return True

    # Calls ------------------------------------------------------------------

    async def _peer(self) -> Endpoint:
        """The endpoint of the open connection; while reconnecting, once it is open again."""
        if self._supervisor is None or self._closing:
            raise PeerDisconnected("the client is not connected; use 'async with' or await connect()")
        if not self._connected.is_set():
            waiter = asyncio.ensure_future(self._connected.wait())
            try:
                done, _ = await asyncio.wait({waiter, self._supervisor}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if waiter not in done:
                raise PeerDisconnected("the connection is closed and will not be re-established")
        assert self._endpoint is not None
        return self._endpoint

    # Topics -----------------------------------------------------------------

    @property
    def subscriptions(self) -> dict[str, list[EventCallback]]:
        """The topics and patterns subscribed to, with their callbacks."""
        return {name: list(sub.callbacks) for name, sub in self._subscriptions.items() if sub.confirmed}

    def position(self, topic: str) -> Position | None:
        """Where the subscription to ``topic`` is: the epoch and offset of the last event handed on.

        ``None`` for a pattern, a topic without history, or one not subscribed to.
        """
        sub = self._subscriptions.get(topic)
        return sub.position if sub is not None else None

    async def subscribe(
        self,
        topic: str,
        callback: EventCallback,
        *,
        rewind: int | None = None,
        since: Position | Mapping[str, JSON] | None = None,
    ) -> JSONObject:
        """Receive the events of a topic or pattern; renewed after every reconnect.

        ``rewind=K`` first hands ``callback`` the topic's last K events
        (``rewind=1``: the last value); ``since=`` a :class:`Position` (or
        ``{"epoch": E, "offset": N}``) the events after it, as after a
        reconnect. Both need a topic with history. Returns the server's answer.
        """
        if rewind is not None and since is not None:
            raise ValueError("give rewind or since, not both")
        start = Position.parse(since) if since is not None else None
        pending = self._subscribing.get(topic)
        if pending is not None:
            await asyncio.wait([pending])  # one rpc.subscribe at a time; if it failed, this one tries
        sub = self._subscriptions.get(topic)
        if sub is None:
            return await self._subscribe_first(topic, callback, rewind=rewind, since=start)
        if (rewind or start is not None) and sub.position is not None:
            return await self._add_rewound(sub, callback, rewind=rewind, since=start)
        sub.callbacks.append(callback)
        result: JSONObject = {"topic": topic, "subscribed": True}
        if sub.position is not None:
            result.update(sub.position.to_json())
        return result

    async def _subscribe_first(
        self, topic: str, callback: EventCallback, *, rewind: int | None, since: Position | None
    ) -> JSONObject:
        sub: Subscription[EventCallback] = Subscription(topic, since=since)
        sub.callbacks.append(callback)
        self._subscriptions[topic] = sub
        first = self._subscribing[topic] = asyncio.get_running_loop().create_future()
        sub.hold()
        try:
            params = sub.subscribe_params(rewind=rewind)
            result: JSONObject = await self.request("rpc.subscribe", params)
        except BaseException:
            sub.release()
            self._forget(sub)
            raise
        finally:
            del self._subscribing[topic]
            first.set_result(None)
        self._hand_on(sub, sub.subscribed(result, since="since" in params) + sub.release())
        return result

    async def _add_rewound(
        self, sub: Subscription[EventCallback], callback: EventCallback, *, rewind: int | None, since: Position | None
    ) -> JSONObject:
        """A callback for a topic already subscribed to, with the events it asked for handed first."""
        sub.hold()
        try:
            history = await self.history(sub.name, since=since, limit=rewind)
        except BaseException:
            self._hand_on(sub, sub.release())
            raise
        earlier = sub.rewound(history)
        for event in earlier:
            self._run(callback, (event.get("data"), event), sub.name)
        sub.callbacks.append(callback)
        self._hand_on(sub, sub.release())
        result: JSONObject = {"topic": sub.name, "subscribed": True}
        if sub.position is not None:
            result.update(sub.position.to_json())
        publications: list[JSON] = [*earlier]
        result["recovered"] = history.get("recovered") is True
        result["publications"] = publications
        return result

    async def unsubscribe(self, topic: str) -> JSONObject:
        """Stop receiving the events of ``topic``."""
        self._subscriptions.pop(topic, None)
        result: JSONObject = await self.request("rpc.unsubscribe", {"topic": topic})
        return result

    async def publish(self, topic: str, data: JSON = None) -> JSONObject:
        """Publish ``data`` to a topic."""
        result: JSONObject = await self.request("rpc.publish", {"topic": topic, "data": data})
        return result

    async def history(
        self, topic: str, *, since: Position | Mapping[str, JSON] | None = None, limit: int | None = None
    ) -> JSONObject:
        """A topic's kept events (``rpc.history``): after ``since``, or the last ``limit``.

        Returns ``{"topic", "offset", "epoch", "publications", "recovered"}``;
        raises :class:`RpcError` -32004 for a topic without history.
        """
        params: JSONObject = {"topic": topic}
        if since is not None:
            params["since"] = Position.parse(since).to_json()
        if limit is not None:
            params["limit"] = limit
        result: JSONObject = await self.request("rpc.history", params)
        return result

    # Presence ------------------------------------------------------------------

    async def info(self) -> JSONObject:
        """Who this connection is (``rpc.info``): ``{"connection", "user", "user_id", "info"?, "since"}``."""
        result: JSONObject = await self.request("rpc.info")
        return result

    async def presence(self, topic: str) -> list[JSONObject]:
        """The connections subscribed to ``topic`` on every server process (``rpc.presence``'s ``clients``).

        Raises :class:`RpcError` -32003 when this client may not subscribe to
        it, -32004 when the topic keeps no presence.
        """
        result: JSONObject = await self.request("rpc.presence", {"topic": topic})
        clients = result.get("clients")
        return [client for client in clients if isinstance(client, dict)] if isinstance(clients, list) else []

    async def presence_stats(self, topic: str) -> JSONObject:
        """How many connections and users are subscribed to ``topic``: ``{"topic", "connections", "users"}``."""
        result: JSONObject = await self.request("rpc.presence_stats", {"topic": topic})
        return result

    def _on_join(self, params: Params | None) -> None:
        self._on_presence(self.on_join, "rpc.join", params)

    def _on_leave(self, params: Params | None) -> None:
        self._on_presence(self.on_leave, "rpc.leave", params)

    def _on_server_subscribed(self, params: Params | None) -> None:
        # Server code subscribed this connection (subscribe_user): its events reach a callback
        # once the application subscribes to the topic too, which the server takes as a no-op.
        if self.on_subscribed is not None and isinstance(params, dict) and isinstance(params.get("topic"), str):
            self._run(self.on_subscribed, (params["topic"],), "rpc.subscribed")

    def _on_presence(self, callback: PresenceCallback | None, name: str, params: Params | None) -> None:
        if callback is None or not isinstance(params, dict):
            return
        topic, client = params.get("topic"), params.get("client")
        if isinstance(topic, str) and isinstance(client, dict):
            self._run(callback, (topic, client), name)

    # Frames from the server ---------------------------------------------------

    def _on_event(self, params: Params | None) -> None:
        sub = self._subscription_of(params)
        if sub is not None:
            assert isinstance(params, dict)
            self._hand_on(sub, sub.event(params))

    def _on_gap(self, params: Params | None) -> None:
        sub = self._subscription_of(params)
        if sub is not None:
            assert isinstance(params, dict)
            self._hand_on(sub, sub.gap(params))

    def _subscription_of(self, params: Params | None) -> Subscription[EventCallback] | None:
        if not isinstance(params, dict):
            return None
        name = params.get("subscription") or params.get("topic")
        return self._subscriptions.get(name) if isinstance(name, str) else None

    def _hand_on(self, sub: Subscription[EventCallback], outcomes: list[Outcome]) -> None:
        """Events to the subscription's callbacks and gaps to ``on_gap``, in order."""
        for outcome in outcomes:
            if isinstance(outcome, Gap):
                logger.info("missed events of %r: %s", outcome.topic, outcome)
                if self.on_gap is not None:
                    self._run(self.on_gap, (outcome,), sub.name)
                continue
            for callback in list(sub.callbacks):
                self._run(callback, (outcome.get("data"), outcome), sub.name)

    def _run(self, callback: Callable[..., Awaitable[None] | None], args: tuple[object, ...], name: str) -> None:
        """Call a sync callback now, start an async one: in the order events come."""
        self._callbacks.run(callback, args, f"a callback for {name!r}")

    def _forget(self, sub: Subscription[EventCallback]) -> None:
        if self._subscriptions.get(sub.name) is sub:
            del self._subscriptions[sub.name]

    def _on_unsubscribed(self, params: Params | None) -> None:
        if isinstance(params, dict) and isinstance(params.get("topic"), str):
            logger.warning("the server ended the subscription to %r: %s", params["topic"], params.get("reason"))
            self._subscriptions.pop(params["topic"], None)
