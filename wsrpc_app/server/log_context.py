"""Who a log record of the ``wsrpc`` logger is about: connection id, user id, method, as record attributes.

:class:`LogContext`, a filter the app puts on the ``wsrpc`` logger when
Django starts, gives every record ``connection_id``, ``user_id`` and
``method`` (None where unknown), read from the context the record was
logged in: the consumer names the connection once it is open
(:func:`bind_connection`), the dispatcher the method of the request
running (``core.dispatch.current_method``). JSON formatters index them
as any ``extra``; nothing of a request's params is ever added.
"""

from __future__ import annotations

import contextvars
import logging

from ..core.dispatch import current_method

__all__ = ["LogContext", "bind_connection", "install"]

#: (connection id, user id) of the connection whose task is running.
_connection: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "wsrpc_connection", default=(None, None)
)


def bind_connection(connection_id: str | None, user: object) -> None:
    """The records logged from now on in this context (and the tasks it starts) are about this connection."""
    pk = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
    _connection.set((connection_id, None if pk is None else str(pk)))


class LogContext(logging.Filter):
    """Adds ``connection_id``, ``user_id`` and ``method`` to each record it sees; lets every record through.

    A value the call gave in ``extra`` stays.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        connection_id, user_id = _connection.get()
        attributes = vars(record)
        attributes.setdefault("connection_id", connection_id)
        attributes.setdefault("user_id", user_id)
        attributes.setdefault("method", current_method.get())
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put a :class:`LogContext` on the ``wsrpc`` logger (once)."""
    logger = logger or logging.getLogger("wsrpc")
    if not any(isinstance(f, LogContext) for f in logger.filters):
        logger.addFilter(LogContext())
