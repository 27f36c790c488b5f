"""Method permissions, at the import path the README documents (they live in :mod:`wsrpc_app.core.permissions`)."""

from __future__ import annotations

from .core.permissions import AllowAny, BasePermission, HasPerms, IsAuthenticated, IsStaff, IsSuperuser, as_permission

__all__ = ["BasePermission", "AllowAny", "IsAuthenticated", "IsStaff", "IsSuperuser", "HasPerms", "as_permission"]
