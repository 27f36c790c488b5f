"""The origin check, at the import path the README documents (it lives in :mod:`wsrpc_app.server.origins`)."""

from __future__ import annotations

from .server.origins import OriginValidator, allowed_origins

__all__ = ["OriginValidator", "allowed_origins"]
