"""Who may call a method: composable permission checks, DRF's shape.

A permission has ``has_permission(connection, method) -> bool`` (sync; it
runs in a worker thread, so it may use the ORM) and a ``message``. DRF's own
permission classes that look only at ``request.user`` (``IsAuthenticated``,
``IsAdminUser``...) work as they are, the connection standing in for the
request. Combine with ``&``, ``|`` and ``~``, classes or instances alike::

    @rpc_method(permissions=[IsAuthenticated, IsStaff | HasPerms("shop.refund")])
    def refund(order_id: int) -> None: ...

    @rpc_method(login_required=True, perms=["shop.view_order"])
    def orders() -> list[dict]: ...

A refusal answers -32001 (not authenticated) to an anonymous caller and
-32003 (permission denied) to everyone else.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = [
    "BasePermission",
    "AllowAny",
    "IsAuthenticated",
    "IsStaff",
    "IsSuperuser",
    "HasPerms",
    "as_permission",
]


def as_permission(permission: Any) -> Any:
    """An instance, from a permission class or instance (ours or DRF's).

    DRF's own operators (``IsAuthenticated & IsAdminUser``) make a holder of
    classes with no ``has_permission``: calling it builds the instance, as
    DRF's views do.
    """
    if isinstance(permission, type) or not hasattr(permission, "has_permission"):
        return permission()
    return permission


class _Composable(type):
    # Lets classes combine as DRF's do: IsAuthenticated & IsStaff.
    def __and__(cls, other: Any) -> BasePermission:
        return And(cls(), as_permission(other))

    def __or__(cls, other: Any) -> BasePermission:  # type: ignore[override]  # not a type union
        return Or(cls(), as_permission(other))

    def __rand__(cls, other: Any) -> BasePermission:
        return And(as_permission(other), cls())

    def __ror__(cls, other: Any) -> BasePermission:  # type: ignore[override]  # not a type union
        return Or(as_permission(other), cls())

    def __invert__(cls) -> BasePermission:
        return Not(cls())


class BasePermission(metaclass=_Composable):
    """Override :meth:`has_permission`; set ``message`` for the error."""

    message = "Permission denied"

    def has_permission(self, connection: Any, method: Any) -> bool:
        return True

    def __call__(self) -> BasePermission:
        # DRF's operators instantiate what they hold (IsAuthenticated & HasPerms("x")):
        # an instance stands for itself.
        return self

    def __and__(self, other: Any) -> BasePermission:
        return And(self, as_permission(other))

    def __or__(self, other: Any) -> BasePermission:
        return Or(self, as_permission(other))

    def __invert__(self) -> BasePermission:
        return Not(self)


class And(BasePermission):
    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second
        # Which one refused, per thread: one instance serves every connection,
        # and checks run concurrently in worker threads.
        self._refused = threading.local()

    @property
    def message(self) -> str:  # type: ignore[override]  # a class attribute elsewhere
        refusing = getattr(self._refused, "permission", self.second)
        return str(getattr(refusing, "message", BasePermission.message))

    def has_permission(self, connection: Any, method: Any) -> bool:
        for permission in (self.first, self.second):
            if not permission.has_permission(connection, method):
                self._refused.permission = permission
                return False
        return True


class Or(BasePermission):
    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    def has_permission(self, connection: Any, method: Any) -> bool:
        return bool(self.first.has_permission(connection, method) or self.second.has_permission(connection, method))


class Not(BasePermission):
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def has_permission(self, connection: Any, method: Any) -> bool:
        return not self.inner.has_permission(connection, method)


def _user(connection: Any) -> Any:
    return getattr(connection, "user", None)


def _authenticated(connection: Any) -> bool:
    return bool(getattr(_user(connection), "is_authenticated", False))


class AllowAny(BasePermission):
    pass


class IsAuthenticated(BasePermission):
    message = "Log in to call this method"

    def has_permission(self, connection: Any, method: Any) -> bool:
        return _authenticated(connection)


class IsStaff(BasePermission):
    message = "Only staff may call this method"

    def has_permission(self, connection: Any, method: Any) -> bool:
        return _authenticated(connection) and bool(getattr(_user(connection), "is_staff", False))


class IsSuperuser(BasePermission):
    message = "Only superusers may call this method"

    def has_permission(self, connection: Any, method: Any) -> bool:
        return _authenticated(connection) and bool(getattr(_user(connection), "is_superuser", False))


class HasPerms(BasePermission):
    """The user has every one of these Django permissions (``"app_label.codename"``)."""

    def __init__(self, *perms: str) -> None:
        self.perms = perms
        self.message = f"Missing permission: {', '.join(perms)}"

    def has_permission(self, connection: Any, method: Any) -> bool:
        user = _user(connection)
        return _authenticated(connection) and bool(user.has_perms(self.perms))
