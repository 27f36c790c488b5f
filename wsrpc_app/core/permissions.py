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
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .types import Caller

__all__ = [
    "Permission",
    "CalledMethod",
    "BasePermission",
    "AllowAny",
    "IsAuthenticated",
    "IsStaff",
    "IsSuperuser",
    "HasPerms",
    "as_permission",
]


class CalledMethod(Protocol):
    """The method a permission decides on, as it sees it: a :class:`~wsrpc_app.core.registry.Method`."""

    @property
    def name(self) -> str: ...

    @property
    def origin(self) -> str: ...

    @property
    def func(self) -> Callable[..., object]: ...


@runtime_checkable
class Permission(Protocol):
    """What a method's permissions are: ours, DRF's, or anything of this shape.

    A ``message`` attribute, when there is one, is the refusal's message.
    """

    def has_permission(self, connection: Caller, method: CalledMethod, /) -> bool: ...


def as_permission(permission: object) -> Permission:
    """An instance, from a permission class or instance (ours or DRF's).

    DRF's own operators (``IsAuthenticated & IsAdminUser``) make a holder of
    classes with no ``has_permission``: calling it builds the instance, as
    DRF's views do. Raises :class:`TypeError` for anything else.
    """
    if isinstance(permission, Permission) and not isinstance(permission, type):
        return permission
    if not callable(permission):
        raise TypeError(f"{permission!r} is neither a permission nor a class of them")
    made = permission()
    if not isinstance(made, Permission):
        raise TypeError(f"{permission!r} made {made!r}, which has no has_permission()")
    return made


class _Combinable:
    # Lets permissions combine as DRF's do, classes (IsAuthenticated & IsStaff)
    # and instances (HasPerms("x") | IsStaff()) alike: as_permission() makes
    # an instance of a class, and leaves an instance as it is.
    def __and__(self, other: object) -> BasePermission:
        return And(as_permission(self), as_permission(other))

    def __or__(self, other: object) -> BasePermission:
        return Or(as_permission(self), as_permission(other))

    def __rand__(self, other: object) -> BasePermission:
        return And(as_permission(other), as_permission(self))

    def __ror__(self, other: object) -> BasePermission:
        return Or(as_permission(other), as_permission(self))

    def __invert__(self) -> BasePermission:
        return Not(as_permission(self))


# `IsStaff | IsSuperuser` combines the classes: it is not the type union that
# type's own | and its reflection make.
class _Composable(_Combinable, type):  # type: ignore[misc]
    pass


class BasePermission(_Combinable, metaclass=_Composable):
    """Override :meth:`has_permission`; set ``message`` for the error."""

    message = "Permission denied"

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        return True

    def __call__(self) -> BasePermission:
        # DRF's operators instantiate what they hold (IsAuthenticated & HasPerms("x")):
        # an instance stands for itself.
        return self


class And(BasePermission):
    def __init__(self, first: Permission, second: Permission) -> None:
        self.first, self.second = first, second
        # Which one refused, per thread: one instance serves every connection,
        # and checks run concurrently in worker threads.
        self._refused = threading.local()
        self._message: str | None = None

    @property
    def message(self) -> str:
        """The message of the part that refused (in this thread), unless one is set."""
        if self._message is not None:
            return self._message
        refusing = getattr(self._refused, "permission", self.second)
        return str(getattr(refusing, "message", BasePermission.message))

    @message.setter
    def message(self, message: str) -> None:
        self._message = message

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        for permission in (self.first, self.second):
            if not permission.has_permission(connection, method):
                self._refused.permission = permission
                return False
        return True


class Or(BasePermission):
    def __init__(self, first: Permission, second: Permission) -> None:
        self.first, self.second = first, second

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        return bool(self.first.has_permission(connection, method) or self.second.has_permission(connection, method))


class Not(BasePermission):
    def __init__(self, inner: Permission) -> None:
        self.inner = inner

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        return not self.inner.has_permission(connection, method)


def _user(connection: Caller) -> object:
    # A dispatcher may run without a connection (None): nobody is logged in.
    return getattr(connection, "user", None)


def _authenticated(connection: Caller) -> bool:
    return bool(getattr(_user(connection), "is_authenticated", False))


class AllowAny(BasePermission):
    pass


class IsAuthenticated(BasePermission):
    message = "Log in to call this method"

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        return _authenticated(connection)


class IsStaff(BasePermission):
    message = "Only staff may call this method"

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        return _authenticated(connection) and bool(getattr(_user(connection), "is_staff", False))


class IsSuperuser(BasePermission):
    message = "Only superusers may call this method"

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        return _authenticated(connection) and bool(getattr(_user(connection), "is_superuser", False))


class HasPerms(BasePermission):
    """The user has every one of these Django permissions (``"app_label.codename"``)."""

    def __init__(self, *perms: str) -> None:
        self.perms = perms
        self.message = f"Missing permission: {', '.join(perms)}"

    def has_permission(self, connection: Caller, method: CalledMethod) -> bool:
        if not _authenticated(connection):
            return False
        user = _user(connection)
        has_perms = getattr(user, "has_perms", None)
        if not callable(has_perms):  # a user model without Django's PermissionsMixin
            raise TypeError(f"{type(user).__name__} has no has_perms()")
        return bool(has_perms(self.perms))
