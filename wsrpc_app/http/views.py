"""JSON-RPC 2.0 over HTTP: the same methods, one POST per frame."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpResponse
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response as DrfResponse
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from ..acl.access import allowed, caller_topics
from ..conf import wsrpc_settings
from ..core import protocol
from ..core.errors import InternalError, InvalidRequest, PublishingTooFast, RpcError, Unavailable
from ..core.protocol import Batch, Invalid, Message
from ..core.protocol import Request as RpcRequest
from ..core.protocol import Response as RpcResponse
from ..core.registry import Registry
from ..core.topics import MAX_LENGTH, validate_topic
from ..docs.page import asyncapi_document, openrpc_document, page_context
from ..metrics.recorder import recorder
from ..pubsub.publishing import publish
from ..server.wiring import http_connection
from .body import read_body, refuse_declared
from .errors import PayloadTooLarge, PublishThrottled, as_api_exception, exception_handler, retry_after
from .throttling import PublishRateThrottle

__all__ = ["ApiView", "RpcView", "PublishView", "TopicsView", "OpenRpcView", "AsyncApiView", "DocsView"]

CONTENT_TYPE = "application/json"
PUBLISH = "rpc.publish"
_EMPTY_ARRAY = re.compile(rb"\s*\[\s*\]\s*")

logger = logging.getLogger("wsrpc")


class ApiView(APIView):
    """The endpoints' base: errors as JSON, and the project's ``REST_FRAMEWORK`` throttles."""

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get_throttles(self) -> list[BaseThrottle]:
        # Read per request, not bound when DRF was imported (DRF#5658), so a
        # changed REST_FRAMEWORK (override_settings in tests) applies.
        classes: list[type[BaseThrottle]] = api_settings.DEFAULT_THROTTLE_CLASSES  # type: ignore[assignment]  # imported by DRF
        return [throttle() for throttle in classes]


class RpcView(ApiView):
    """``POST`` a JSON-RPC request or batch; the reply comes back as the body.

    Answers 200 with the reply, or 204 when the frame held only
    notifications; 413 with a -32600 error object for a body over
    ``MAX_MESSAGE_BYTES`` or a batch over ``MAX_BATCH_LENGTH``; 429 when a
    lone ``rpc.publish`` is over ``PUBLISH_RATE`` (-32029; in a batch, only
    that member is refused); 500 with -32603 when the methods cannot be
    loaded. Authentication is DRF's (session, token).
    """

    permission_classes = [AllowAny]  # methods decide what the caller may do

    def post(self, request: Request, *args: object, **kwargs: object) -> HttpResponse:
        max_bytes, max_batch = wsrpc_settings.MAX_MESSAGE_BYTES, wsrpc_settings.MAX_BATCH_LENGTH
        body = read_body(request._request, max_bytes)
        try:
            incoming = protocol.parse(body, max_batch=max_batch)
        except InvalidRequest as error:
            if max_batch is not None and not _EMPTY_ARRAY.fullmatch(body):
                return rpc_error(InvalidRequest(data={"max_batch_length": max_batch}), status=413)
            return rpc_error(error)
        except RpcError as error:
            return rpc_error(error)
        batch = isinstance(incoming, Batch)
        messages = _requests_only(incoming.messages if isinstance(incoming, Batch) else [incoming])
        messages, wait = self.throttle_publishes(request, messages)
        if not messages:  # only publish notifications over the rate
            return HttpResponse(status=204, headers=retry_after(wait))
        connection = http_connection(request)
        reply = async_to_sync(connection.dispatcher.answer)(messages, connection, batch=batch)
        if reply is None:
            return HttpResponse(status=204, headers=retry_after(wait))
        refused = wait is not None and not batch
        return HttpResponse(reply, status=429 if refused else 200, content_type=CONTENT_TYPE, headers=retry_after(wait))

    def throttle_publishes(
        self, request: Request, messages: list[RpcRequest | Invalid]
    ) -> tuple[list[RpcRequest | Invalid], float | None]:
        """Each ``rpc.publish`` counts against ``PUBLISH_RATE`` as a ``POST publish/`` does.

        Those over it are answered -32029 (notifications dropped unanswered);
        the wait before the next is allowed, or None when none was refused.
        """
        if not any(isinstance(m, RpcRequest) and m.method == PUBLISH for m in messages):
            return messages, None
        throttle = PublishRateThrottle()
        kept: list[RpcRequest | Invalid] = []
        wait: float | None = None
        for message in messages:
            if (
                not isinstance(message, RpcRequest)
                or message.method != PUBLISH
                or throttle.allow_request(request, self)
            ):
                kept.append(message)
                continue
            wait = max(wait or 0.0, throttle.wait() or 0.0)
            if not message.notification:
                kept.append(Invalid(PublishingTooFast(data={"publish_rate": throttle.publish_rate}), message.id))
        return kept, wait

    def get_exception_handler(self) -> Any:
        return rpc_exception_handler


def _requests_only(messages: list[Message]) -> list[RpcRequest | Invalid]:
    # Nothing over HTTP calls the client, so a response here answers nothing.
    return [
        Invalid(InvalidRequest(data="this endpoint takes requests only"), m.id)
        if isinstance(m, RpcResponse) or (isinstance(m, Invalid) and m.response)
        else m
        for m in messages
    ]


def rpc_error(error: RpcError, *, status: int = 200) -> HttpResponse:
    """A JSON-RPC error object with a null id, as the body of an HTTP response."""
    return HttpResponse(protocol.error_reply(None, error), status=status, content_type=CONTENT_TYPE)


def rpc_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """``rpc/``'s own failures as JSON-RPC error objects; DRF's refusals (authentication, 405) in DRF's shape."""
    exc = as_api_exception(exc)
    if isinstance(exc, PayloadTooLarge):
        return rpc_error(InvalidRequest(data=exc.extra), status=413)
    if isinstance(exc, exceptions.APIException):
        return exception_handler(exc, context)
    logger.error("POST rpc/ failed", exc_info=exc)
    if not settings.DEBUG:
        return rpc_error(InternalError(), status=500)
    data = {"exception": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exception(exc)}
    return rpc_error(InternalError(data=data), status=500)


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


class PublishView(ApiView):
    """``POST {"topic": T, "data": ANY}``: publish as the authenticated caller, on every process.

    403 when the caller may not publish to the topic, 400 for an invalid
    topic name, 413 for a body over ``MAX_MESSAGE_BYTES``, 429 (with
    ``Retry-After``) over ``PUBLISH_RATE`` or a project's own throttle, 503
    when the channel layer or the history cannot be reached.
    """

    permission_classes = [AllowAny]  # Topic rows decide

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, permissions, the project's throttles
        throttle = PublishRateThrottle()
        if not throttle.allow_request(request, self):
            recorder().rate_limited("publish_rate")
            raise PublishThrottled(throttle.wait(), throttle.publish_rate)
        refuse_declared(request._request, wsrpc_settings.MAX_MESSAGE_BYTES)

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


class TopicsView(ApiView):
    """``GET``: the topics and patterns the caller may subscribe or publish to."""

    permission_classes = [AllowAny]

    def get(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        return DrfResponse(caller_topics(request.user))


class OpenRpcView(ApiView):
    """``GET``: the OpenRPC 1.3 document of the methods the caller may call (what ``rpc.discover`` answers)."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        registry, time_limit = _callable(request)
        return DrfResponse(openrpc_document(request, registry, time_limit=time_limit))


class AsyncApiView(ApiView):
    """``GET``: the AsyncAPI 3.0 document of the WebSocket, its operations and the caller's topics."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request, *args: object, **kwargs: object) -> DrfResponse:
        return DrfResponse(asyncapi_document(request, caller_topics(request.user)))


class DocsView(ApiView):
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
