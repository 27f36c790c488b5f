"""Error codes and exceptions, at the import path the README documents (they live in :mod:`wsrpc_app.core.errors`)."""

from __future__ import annotations

from .core.errors import (
    CloseCode,
    ErrorCode,
    InternalError,
    InvalidParams,
    InvalidRequest,
    InvalidTopic,
    MethodNotFound,
    NeedsWebSocket,
    NoSuchTopic,
    NotAuthenticated,
    ParseError,
    PeerDisconnected,
    PermissionDenied,
    PublishingTooFast,
    RpcError,
    TimedOut,
    TooManyRequests,
    TooManySubscriptions,
)

__all__ = [
    "ErrorCode",
    "CloseCode",
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
    "PeerDisconnected",
]
