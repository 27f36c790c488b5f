"""JSON-RPC error codes and the exceptions that carry them.

The tree::

    RpcError                 -32000  application error raised by a method
    ├── ParseError           -32700
    ├── InvalidRequest       -32600
    │   └── NeedsWebSocket           a subscription asked for over HTTP
    ├── MethodNotFound       -32601
    ├── InvalidParams        -32602
    ├── InternalError        -32603
    ├── NotAuthenticated     -32001
    ├── PermissionDenied     -32003
    ├── NoSuchTopic          -32004
    │   └── InvalidTopic             a name that breaks the topic rules
    ├── TimedOut             -32008
    ├── TooManyRequests      -32029
    │   ├── TooManySubscriptions     MAX_SUBSCRIPTIONS reached
    │   └── PublishingTooFast        PUBLISH_RATE exceeded
    ├── Unavailable          -32053  the channel layer or the history store cannot be reached
    └── RequestCancelled     -32800  ``rpc.cancel`` stopped the request (the code LSP uses)

    PeerDisconnected (ConnectionError)  a call could not complete: the peer left

:class:`CloseCode` lists the WebSocket close codes the server uses.

A method raises ``RpcError(message, code=..., data=...)`` (or a subclass) to
answer with that error; any other exception becomes -32603.
"""

from __future__ import annotations

from enum import IntEnum

from .types import JSON, JSONObject

__all__ = [
    "ErrorCode",
    "RpcError",
    "ParseError",
    "InvalidRequest",
    "MethodNotFound",
    "InvalidParams",
    "InternalError",
    "NotAuthenticated",
    "PermissionDenied",
    "NoSuchTopic",
    "TimedOut",
    "TooManyRequests",
    "NeedsWebSocket",
    "InvalidTopic",
    "TooManySubscriptions",
    "PublishingTooFast",
    "Unavailable",
    "RequestCancelled",
    "PeerDisconnected",
    "CloseCode",
]


class ErrorCode(IntEnum):
    """Error codes of JSON-RPC 2.0 (section 5.1) and of this server."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    APPLICATION_ERROR = -32000
    NOT_AUTHENTICATED = -32001
    PERMISSION_DENIED = -32003
    NO_SUCH_TOPIC = -32004
    TIMED_OUT = -32008
    TOO_MANY_REQUESTS = -32029
    UNAVAILABLE = -32053
    REQUEST_CANCELLED = -32800


class RpcError(Exception):
    """An error answered to the caller as a JSON-RPC error object.

    Raise it from a method with your own ``code`` (in -32099..-32000 or outside
    the range JSON-RPC reserves) and any JSON-serializable ``data``.
    """

    default_code: int = ErrorCode.APPLICATION_ERROR
    default_message: str = "Application error"

    def __init__(self, message: str | None = None, *, code: int | None = None, data: JSON = None) -> None:
        self.code = int(self.default_code if code is None else code)
        self.message = self.default_message if message is None else str(message)
        self.data = data
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r}, data={self.data!r})"

    def to_object(self) -> JSONObject:
        """The JSON-RPC error object (section 5.1)."""
        error: JSONObject = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    @classmethod
    def from_object(cls, error: JSON) -> RpcError:
        """Rebuild the exception from an error object received from a peer."""
        if not isinstance(error, dict):
            return cls("Malformed error object", code=ErrorCode.INTERNAL_ERROR, data=error)
        code = error.get("code")
        message = error.get("message")
        return cls(
            message if isinstance(message, str) else "",
            code=code if isinstance(code, int) and not isinstance(code, bool) else ErrorCode.INTERNAL_ERROR,
            data=error.get("data"),
        )


class ParseError(RpcError):
    default_code = ErrorCode.PARSE_ERROR
    default_message = "Parse error"


class InvalidRequest(RpcError):
    default_code = ErrorCode.INVALID_REQUEST
    default_message = "Invalid Request"


class MethodNotFound(RpcError):
    default_code = ErrorCode.METHOD_NOT_FOUND
    default_message = "Method not found"


class InvalidParams(RpcError):
    default_code = ErrorCode.INVALID_PARAMS
    default_message = "Invalid params"


class InternalError(RpcError):
    default_code = ErrorCode.INTERNAL_ERROR
    default_message = "Internal error"


class NotAuthenticated(RpcError):
    default_code = ErrorCode.NOT_AUTHENTICATED
    default_message = "Not authenticated"


class PermissionDenied(RpcError):
    default_code = ErrorCode.PERMISSION_DENIED
    default_message = "Permission denied"


class NoSuchTopic(RpcError):
    default_code = ErrorCode.NO_SUCH_TOPIC
    default_message = "No such topic"


class TimedOut(RpcError):
    default_code = ErrorCode.TIMED_OUT
    default_message = "Timed out"


class TooManyRequests(RpcError):
    default_code = ErrorCode.TOO_MANY_REQUESTS
    default_message = "Too many requests"


class NeedsWebSocket(InvalidRequest):
    default_message = "Subscriptions need a WebSocket connection"


class InvalidTopic(NoSuchTopic):
    default_message = "Invalid topic name"


class TooManySubscriptions(TooManyRequests):
    default_message = "Too many subscriptions"


class PublishingTooFast(TooManyRequests):
    default_message = "Publishing too fast"


class Unavailable(RpcError):
    default_code = ErrorCode.UNAVAILABLE
    default_message = "Unavailable"


class RequestCancelled(RpcError):
    default_code = ErrorCode.REQUEST_CANCELLED
    default_message = "Request cancelled"


class PeerDisconnected(ConnectionError):
    """The connection closed before the peer answered a call."""


class CloseCode(IntEnum):
    """WebSocket close codes the server uses (RFC 6455 section 7.4)."""

    NORMAL = 1000
    MESSAGE_TOO_BIG = 1009
    #: The server ended the connection: its user logged out, was deactivated, or server code disconnected it.
    DISCONNECTED = 4003
    #: The client did not read fast enough: its outbound queue filled up.
    SLOW_CONSUMER = 4008
    #: 1009 in the private range, for servers that refuse 1009 from an
    #: application: daphne (autobahn) accepts only 1000 and 3000-4999.
    MESSAGE_TOO_BIG_PRIVATE = 4009
    #: The client sent nothing for IDLE_TIMEOUT seconds (no heartbeat).
    IDLE_TIMEOUT = 4010
    #: The connection reached MAX_LIFESPAN; the client should reconnect.
    LIFESPAN_REACHED = 4011
