"""JSON-RPC 2.0 over HTTP: the same methods, one POST per frame."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from . import protocol
from .conf import get_registry, wsrpc_settings
from .connection import HttpConnection
from .errors import InvalidRequest, RpcError
from .protocol import Batch, Invalid, Response
from .server import server_dispatcher

__all__ = ["RpcView"]

CONTENT_TYPE = "application/json"


class RpcView(APIView):
    """``POST`` a JSON-RPC request or batch; the reply comes back as the body.

    Answers 200 with the reply, or 204 when the frame held only
    notifications. Authentication is DRF's (session, token).
    """

    permission_classes = [AllowAny]  # methods decide what the caller may do

    def post(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        reply = async_to_sync(self.answer)(request.body, HttpConnection(request, get_registry()))
        if reply is None:
            return HttpResponse(status=204)
        return HttpResponse(reply, content_type=CONTENT_TYPE)

    async def answer(self, body: bytes, connection: HttpConnection) -> bytes | None:
        limit = wsrpc_settings.MAX_MESSAGE_BYTES
        if limit is not None and len(body) > limit:
            return protocol.error_reply(None, InvalidRequest(data=f"the body exceeds {limit} bytes"))
        try:
            incoming = protocol.parse(body, max_batch=wsrpc_settings.MAX_BATCH_LENGTH)
        except RpcError as error:
            return protocol.error_reply(None, error)
        batch = isinstance(incoming, Batch)
        messages = incoming.messages if isinstance(incoming, Batch) else [incoming]
        # Nothing over HTTP calls the client, so a response here answers nothing.
        requests = [
            Invalid(InvalidRequest(data="this endpoint takes requests only"), m.id)
            if isinstance(m, Response) or (isinstance(m, Invalid) and m.response)
            else m
            for m in messages
        ]
        return await server_dispatcher(connection.registry).answer(requests, connection, batch=batch)
