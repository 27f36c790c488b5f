"""JSON-RPC 2.0 over HTTP: the same methods, one POST per frame."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response as DrfResponse
from rest_framework.views import APIView

from ..acl.access import allowed, caller_topics
from ..conf import wsrpc_settings
from ..core import protocol
from ..core.errors import InvalidRequest, RpcError, Unavailable
from ..core.protocol import Batch, Invalid, Response
from ..core.registry import Registry
from ..core.topics import MAX_LENGTH, validate_topic
from ..docs.page import asyncapi_document, openrpc_document, page_context
from ..pubsub.publishing import publish
from ..server.connection import HttpConnection
from ..server.wiring import http_connection

__all__ = ["RpcView", "PublishView", "TopicsView", "OpenRpcView", "AsyncApiView", "DocsView"]

CONTENT_TYPE = "application/json"


class RpcView(APIView):
    """``POST`` a JSON-RPC request or batch; the reply comes back as the body.

    Answers 200 with the reply, or 204 when the frame held only
    notifications. Authentication is DRF's (session, token).
    """

    permission_classes = [AllowAny]  # methods decide what the caller may do

    def post(self, request: Request, *args: object, **kwargs: object) -> HttpResponse:
        reply = async_to_sync(self.answer)(request.body, http_connection(request))
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
        return await connection.dispatcher.answer(requests, connection, batch=batch)


class PublishSerializer(serializers.Serializer[None]):  # it validates input: no instance
    topic = serializers.CharField(max_length=MAX_LENGTH, trim_whitespace=False)
    data = serializers.JSONField(required=False, allow_null=True, default=None)  # type: ignore[assignment]  # a field

    def validate_topic(self, value: str) -> str:
        try:
            return validate_topic(value)
        except RpcError as exc:
            raise serializers.ValidationError(exc.data["reason"]) from None


class ServiceUnavailable(exceptions.APIException):
    """503: the channel layer or the history store cannot be reached; the client may retry."""

    status_code = 503
    default_detail = "The channel layer cannot be reached; retry later."
    default_code = "unavailable"


class PublishView(APIView):
    """``POST {"topic": T, "data": ANY}``: publish as the authenticated caller, on every process.

    403 when the caller may not publish to the topic, 400 for an invalid
    topic name, 503 when the channel layer or the history cannot be reached.
    Throttle it with DRF's ``throttle_classes`` if need be.
    """

    permission_classes = [AllowAny]  # Topic rows decide

    def post(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        serializer = PublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topic: str = serializer.validated_data["topic"]
        if not allowed(request.user, "publish", topic):
            raise exceptions.PermissionDenied(f"You may not publish to {topic!r}.")
        try:
            at = publish(topic, serializer.validated_data["data"])
        except Unavailable as exc:
            raise ServiceUnavailable(exc.data["reason"] if isinstance(exc.data, dict) else None) from exc
        if at is None:
            return DrfResponse({"topic": topic})
        return DrfResponse({"topic": topic, "offset": at.offset, "epoch": at.epoch})


class TopicsView(APIView):
    """``GET``: the topics and patterns the caller may subscribe or publish to."""

    permission_classes = [AllowAny]

    def get(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        return DrfResponse(caller_topics(request.user))


class OpenRpcView(APIView):
    """``GET``: the OpenRPC 1.3 document of the methods the caller may call (what ``rpc.discover`` answers)."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        registry, time_limit = _callable(request)
        return DrfResponse(openrpc_document(request, registry, time_limit=time_limit))


class AsyncApiView(APIView):
    """``GET``: the AsyncAPI 3.0 document of the WebSocket, its operations and the caller's topics."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        return DrfResponse(asyncapi_document(request, caller_topics(request.user)))


class DocsView(APIView):
    """``GET``: both documents as a page, with a form to try each method; no asset from elsewhere."""

    permission_classes = [AllowAny]
    renderer_classes = [TemplateHTMLRenderer]
    template_name = "wsrpc_app/docs.html"

    def get(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        registry, time_limit = _callable(request)
        return DrfResponse(page_context(request, registry, caller_topics(request.user), time_limit=time_limit))


def _callable(request: Request) -> tuple[Registry, float | None]:
    """The methods the caller of an HTTP request may call, and their time limit."""
    connection = http_connection(request)
    return async_to_sync(connection.callable_registry)(), connection.dispatcher.time_limit
