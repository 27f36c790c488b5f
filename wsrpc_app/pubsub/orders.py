"""Carrying out, on this process, what server code ordered for connections (:mod:`.control`).

The hub hands each ``wsrpc.command`` it receives to :func:`carry_out`: sent
to a user's group, the order is for that user's connections here; sent to
this process's group, for the one connection it names, or for every
connection here of the user it names. A call answers the caller's hub: the
connections that will answer first (for a user), then one reply per
connection, each when its client answered, failed, timed out or went away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine

import orjson

from ..core import protocol
from ..core.errors import PeerDisconnected, RpcError
from ..core.types import JSON, Params
from .hub import Hub
from .messages import CommandMessage, reply_message
from .routes import Connected
from .targets import GONE, TIMEOUT, Narrowing

__all__ = ["carry_out"]

logger = logging.getLogger("wsrpc")

#: Closes and calls under way, kept until they end.
_running: set[asyncio.Future[None]] = set()


def _spawn(coroutine: Coroutine[object, object, None]) -> None:
    task = asyncio.ensure_future(coroutine)
    _running.add(task)
    task.add_done_callback(_running.discard)


def _targets(hub: Hub, message: CommandMessage) -> list[Connected]:
    connection = message.get("connection")
    if connection is not None:
        found = hub.connections.get(connection)
        return [found] if found is not None else []
    user = message.get("user")
    if user is None:
        return []
    return [target for target in list(hub.connections.values()) if target.user_key == user]


async def carry_out(hub: Hub, message: CommandMessage) -> None:
    """Do what ``message`` orders to the connections of this process it is for."""
    action, args = message["action"], message["args"]
    targets = _targets(hub, message)
    if action == "call":
        await _call(hub, message, targets)
        return
    if action == "describe":
        await _describe(hub, message)
        return
    topic = args.get("topic")
    for target in targets:
        try:
            if action == "close":
                code, reason = args.get("code"), args.get("reason")
                if (
                    type(code) is int
                    and isinstance(reason, str)
                    and Narrowing.from_args(args).affects(target.credentials)
                ):
                    _spawn(target.close_by_server(code, reason))
            elif action == "subscribe" and isinstance(topic, str):
                await target.subscribe_by_server(topic)
            elif action == "unsubscribe" and isinstance(topic, str):
                await target.unsubscribe_by_server(topic)
            else:
                logger.warning("ignored an order %r with arguments %r", action, args)
                return
        except RpcError as exc:
            logger.info("could not %s connection %s: %s", action, target.id, exc.message)
        except Exception:
            logger.exception("could not %s connection %s", action, target.id)


async def _describe(hub: Hub, message: CommandMessage) -> None:
    """Tell the caller about every connection of this process."""
    reply_to, call = message.get("reply_to"), message.get("call")
    if reply_to is None or call is None:
        return
    described = [target.describe() | {"process": hub.marker} for target in list(hub.connections.values())]
    result = protocol.encode(described).decode()
    await hub.layer.group_send(reply_to, reply_message(reply_to, call, process=hub.marker, result=result))


async def _call(hub: Hub, message: CommandMessage, targets: list[Connected]) -> None:
    reply_to, call, args = message.get("reply_to"), message.get("call"), message["args"]
    method, params_json, timeout = args.get("method"), args.get("params"), args.get("timeout")
    if reply_to is None or call is None or not isinstance(method, str):
        logger.warning("ignored a malformed call order")
        return
    params = orjson.loads(params_json) if isinstance(params_json, str | bytes) else None
    if not isinstance(params, list | dict):
        params = None
    wait = float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) else None
    connection = message.get("connection")
    if connection is not None and not targets:
        await hub.layer.group_send(reply_to, reply_message(reply_to, call, connection=connection, outcome=GONE))
        return
    if connection is None:
        connections = [target.id for target in targets]
        await hub.layer.group_send(reply_to, reply_message(reply_to, call, connections=connections, process=hub.marker))
    for target in targets:
        _spawn(_answer(hub, reply_to, call, target, method, params, wait))


async def _answer(
    hub: Hub, reply_to: str, call: str, target: Connected, method: str, params: Params | None, timeout: float | None
) -> None:
    answer: dict[str, str] = {}
    try:
        result: JSON = await target.call_by_server(method, params, timeout)
    except RpcError as exc:
        answer["error"] = protocol.encode(exc.to_object()).decode()
    except TimeoutError:
        answer["outcome"] = TIMEOUT
    except (PeerDisconnected, ConnectionError):
        answer["outcome"] = GONE
    except Exception:
        logger.exception("a call to connection %s failed", target.id)
        answer["error"] = protocol.encode(RpcError.from_object(None).to_object()).decode()
    else:
        answer["result"] = protocol.encode(result).decode()
    try:
        await hub.layer.group_send(
            reply_to,
            reply_message(
                reply_to,
                call,
                connection=target.id,
                result=answer.get("result"),
                error=answer.get("error"),
                outcome=answer.get("outcome"),
            ),
        )
    except Exception as exc:
        logger.warning("could not reply to a call to connection %s: %r", target.id, exc)
