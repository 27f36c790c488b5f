"""Handshake authentication, at the import path the README documents (it lives in :mod:`wsrpc_app.server.auth`)."""

from __future__ import annotations

from .server.auth import AuthMiddlewareStack, HandshakeAuthMiddleware, TokenAuthMiddleware, header

__all__ = ["AuthMiddlewareStack", "HandshakeAuthMiddleware", "TokenAuthMiddleware", "header"]
