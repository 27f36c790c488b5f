"""Publishing to topics and notifying users, from anywhere in any process.

``apublish`` / ``anotify_user`` are for async code. ``publish`` /
``notify_user`` are for sync code: views, signals, management commands,
worker processes. Called from a thread that an ASGI server's event loop
started (Django's sync views and sync RPC methods), they run on that loop;
elsewhere they run on one long-lived background loop, so no event loop and
no Redis connection is made per call.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import TypeVar

from asgiref.sync import SyncToAsync, async_to_sync
from django.dispatch import receiver

from ..acl.access import aretention_of
from ..acl.invalidation import topic_permissions_changed
from ..core import protocol
from ..core.errors import Unavailable
from ..core.topics import validate_topic
from ..core.types import JSON
from ..metrics.recorder import recorder
from .batching import Overloaded
from .messages import CONTROL_GROUP, EventMessage, control_message, event_messages, user_group, user_message
from .process import channel_layer, history_store, relay
from .stream import Position

__all__ = [
    "publish",
    "apublish",
    "send_event",
    "stage_event",
    "StagedEvent",
    "notify_user",
    "anotify_user",
    "broadcast_control",
    "abroadcast_control",
    "run_on_loop",
]

T = TypeVar("T")

logger = logging.getLogger("wsrpc")


async def apublish(topic: str, data: JSON = None) -> Position | None:
    """Publish ``data`` to every subscriber of ``topic`` (and of patterns matching it), on every process.

    Returns the event's position in the topic's history, or None when the
    topic keeps none. Raises :class:`~wsrpc_app.core.errors.NoSuchTopic` for
    an invalid topic name, TypeError for data JSON cannot carry, and
    :class:`~wsrpc_app.core.errors.Unavailable` when the channel layer or the
    history store cannot be reached. Permissions are not checked here:
    server code may publish anywhere.
    """
    return await send_event(validate_topic(topic), data)


async def send_event(topic: str, data: JSON) -> Position | None:
    """:func:`apublish` to a topic already validated."""
    event = await stage_event(topic, data)
    await event.send()
    return event.at


class StagedEvent:
    """An event encoded, and stored when its topic keeps history; :meth:`send` puts it on the layer.

    Once stored, an event's place among the topic's others is its offset:
    its publisher may let the next one be staged before this one is sent.
    """

    __slots__ = ("topic", "at", "_messages")

    def __init__(self, topic: str, at: Position | None, messages: list[EventMessage]) -> None:
        self.topic = topic
        self.at = at
        self._messages = messages

    async def send(self) -> None:
        try:
            await relay().send([(message["group"], message) for message in self._messages])
            recorder().published()
        except Exception as exc:
            recorder().layer_error("group_send")
            logger.warning("could not publish to %r on the channel layer: %r", self.topic, exc)
            if self.at is None:
                raise _unavailable("the channel layer", exc) from exc
            # Stored: every process finds it in the history (its next event, or its
            # periodic check), so it is published, only later.


async def stage_event(topic: str, data: JSON) -> StagedEvent:
    """Encode ``data`` once for every process and subscriber, and store it if ``topic`` keeps history."""
    data_json = protocol.encode(data)
    retention = await aretention_of(topic)
    store = history_store() if retention is not None else None
    if retention is None or store is None:
        return StagedEvent(topic, None, event_messages(topic, data_json))
    try:
        recorder().history_operation("append")
        at = await store.append(topic, data_json.decode(), retention)
    except Exception as exc:
        logger.warning("could not append to the history of %r: %r", topic, exc)
        raise _unavailable("the history store", exc) from exc
    return StagedEvent(topic, at, event_messages(topic, data_json, at.epoch, at.offset))


def _unavailable(what: str, exc: Exception) -> Unavailable:
    """-32053 for ``what`` failing with ``exc``, saying whether it was overloaded, slow or unreachable."""
    if isinstance(exc, Overloaded):
        reason = f"{what} is overloaded; retry later"
    elif isinstance(exc, TimeoutError):
        reason = f"{what} did not answer in time; retry later"
    else:
        reason = f"{what} cannot be reached; retry later"
    return Unavailable(data={"reason": reason})


async def anotify_user(user: object, method: str, *args: JSON, **kwargs: JSON) -> None:
    """Send the notification ``method(*args or **kwargs)`` to every connection of ``user``, on every process.

    ``user`` is a user object or its primary key.
    """
    key = str(getattr(user, "pk", user))
    group = user_group(key)
    frame = protocol.notification(method, protocol.params_of(args, kwargs)).decode()
    try:
        await relay().send([(group, user_message(group, frame))])
    except Exception as exc:
        raise _unavailable("the channel layer", exc) from exc


async def abroadcast_control(what: str) -> None:
    """Tell every process's hub that something changed (``"permissions"``)."""
    await channel_layer().group_send(CONTROL_GROUP, control_message(what))


def publish(topic: str, data: JSON = None) -> Position | None:
    """Sync :func:`apublish`."""
    return run_on_loop(apublish, topic, data)


def notify_user(user: object, method: str, *args: JSON, **kwargs: JSON) -> None:
    """Sync :func:`anotify_user`."""
    run_on_loop(anotify_user, user, method, *args, **kwargs)


def broadcast_control(what: str) -> None:
    """Sync :func:`abroadcast_control`."""
    run_on_loop(abroadcast_control, what)


@receiver(topic_permissions_changed)
def _permissions_changed(**kwargs: object) -> None:
    broadcast_control("permissions")


def run_on_loop(function: Callable[..., Coroutine[object, object, T]], *args: object, **kwargs: object) -> T:
    """Run ``function(*args, **kwargs)`` to its end from sync code, on a loop that owns the layer's connections."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(f"{function.__name__[1:]}() blocks; use await {function.__name__}() in async code")
    if getattr(SyncToAsync.threadlocal, "main_event_loop", None) is not None:
        # In a thread an event loop handed work to: run there, on the loop
        # that owns the channel layer's connections.
        return async_to_sync(function)(*args, **kwargs)
    return _background.run(function(*args, **kwargs))


class _BackgroundLoop:
    """One event loop in a daemon thread for sync callers outside any server loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coroutine: Coroutine[object, object, T]) -> T:
        loop = self._ensure()
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="wsrpc-publish", daemon=True)
                self._thread.start()
                atexit.register(self.stop)
            return self._loop

    def stop(self) -> None:
        """Stop the loop and close it, which closes the layer's connections made on it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()


_background = _BackgroundLoop()
