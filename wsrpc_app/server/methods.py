"""The reserved methods of the server itself: ``rpc.ping``, ``rpc.discover`` and ``rpc.info``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import WithJsonSchema

from ..core.registry import rpc_method
from ..core.types import JSONObject
from ..docs.openrpc import document, servers_of_scope
from .connection import Connection

__all__ = ["ping", "discover", "info"]

#: What rpc.discover answers.
OpenRpcDocument = Annotated[
    JSONObject,
    WithJsonSchema(
        {
            "type": "object",
            "description": "An OpenRPC 1.3 document of the methods the caller may call.",
            "required": ["openrpc", "info", "methods"],
            "properties": {
                "openrpc": {"type": "string"},
                "info": {"type": "object"},
                "methods": {"type": "array", "items": {"type": "object"}},
                "components": {"type": "object"},
            },
        }
    ),
]


@rpc_method(name="rpc.ping")
async def ping() -> Literal["pong"]:
    """Answer "pong": a cheap liveness check.

    Clients send it as a heartbeat: a connection that sends nothing for
    IDLE_TIMEOUT seconds is closed (4010).
    """
    return "pong"


@rpc_method(name="rpc.discover")
async def discover(connection: Connection) -> OpenRpcDocument:
    """The OpenRPC document of the methods this connection may call."""
    return document(
        await connection.callable_registry(),
        servers=servers_of_scope(connection.scope),
        time_limit=connection.dispatcher.time_limit,
    )


#: What rpc.info answers.
ConnectionInfo = Annotated[
    JSONObject,
    WithJsonSchema(
        {
            "type": "object",
            "description": "Who this connection is.",
            "required": ["connection", "user", "user_id"],
            "properties": {
                "connection": {
                    "type": ["string", "null"],
                    "description": "The connection's id, unique across server processes (null over HTTP).",
                },
                "user": {"type": ["string", "null"], "description": "The username; null when anonymous."},
                "user_id": {"description": "The user's primary key; null when anonymous."},
                "info": {"type": "object", "description": "What the client declared on connecting (?info=)."},
                "since": {"type": "string", "format": "date-time", "description": "When the connection opened."},
            },
        }
    ),
]


@rpc_method(name="rpc.info")
async def info(connection: Connection) -> ConnectionInfo:
    """Who this connection is: its id (unique across server processes), its user, what the client declared.

    The id is the one rpc.presence lists, rpc.join and rpc.leave name, and server code addresses
    (acall_connection, disconnect_connection).
    """
    return connection.info()
