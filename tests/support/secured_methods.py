"""Methods behind permissions, and a test-only view of the server's insides.

Listed in the test settings' ``WSRPC["METHODS"]`` (as a module: each
``@rpc_method`` here is exposed).
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from typing import Any

from rest_framework import permissions as drf

from wsrpc_app import Connection, RpcMethods, rpc_method
from wsrpc_app.core.endpoint import Endpoint
from wsrpc_app.permissions import BasePermission, HasPerms, IsAuthenticated, IsStaff, IsSuperuser
from wsrpc_app.pubsub.process import current_hub


class IsNamedAlice(BasePermission):
    message = "Only alice may call this method"

    def has_permission(self, connection: Any, method: Any) -> bool:
        user = connection.user
        return bool(user is not None and user.is_authenticated and user.get_username() == "alice")


class Counted(BasePermission):
    """Allows everyone, and counts how often it was asked."""

    checks = 0

    def has_permission(self, connection: Any, method: Any) -> bool:
        type(self).checks += 1
        return True


class Broken(BasePermission):
    def has_permission(self, connection: Any, method: Any) -> bool:
        raise RuntimeError("secret permission internals")


# The decorator's shortcuts.


@rpc_method(name="secured.login", login_required=True)
def login_only(connection: Connection) -> str:
    return str(connection.user.get_username())


@rpc_method(name="secured.staff", staff_required=True)
def staff_only() -> str:
    return "staff"


@rpc_method(name="secured.perm", perms=["auth.view_user"])
def with_one_perm() -> str:
    return "viewed"


@rpc_method(name="secured.perms", perms=["auth.view_user", "auth.change_user"])
def with_two_perms() -> str:
    return "changed"


# DRF's permission classes, as they are and composed with DRF's own operators.


@rpc_method(name="secured.drf_authenticated", permissions=[drf.IsAuthenticated])
def drf_authenticated() -> str:
    return "authenticated"


@rpc_method(name="secured.drf_admin", permissions=[drf.IsAdminUser])
def drf_admin() -> str:
    return "admin"


@rpc_method(name="secured.drf_composed", permissions=[drf.IsAuthenticated & drf.IsAdminUser])
def drf_composed() -> str:
    return "composed"


@rpc_method(name="secured.drf_not", permissions=[~drf.IsAuthenticated])
def drf_not() -> str:
    return "anonymous"


@rpc_method(name="secured.drf_mixed", permissions=[drf.IsAuthenticated & HasPerms("auth.view_user")])
def drf_mixed() -> str:
    return "mixed"


# This app's classes composed with |, & and ~.


@rpc_method(name="secured.staff_or_perm", permissions=[IsStaff | HasPerms("auth.view_user")])
def staff_or_perm() -> str:
    return "either"


@rpc_method(name="secured.member", permissions=[IsAuthenticated & ~IsStaff])
def member() -> str:
    return "member"


@rpc_method(name="secured.anonymous", permissions=[~IsAuthenticated])
def anonymous() -> str:
    return "anonymous"


@rpc_method(name="secured.superuser_or_drf_admin", permissions=[IsSuperuser | drf.IsAdminUser])
def superuser_or_drf_admin() -> str:
    return "super"


@rpc_method(name="secured.alice", permissions=[IsNamedAlice])
def alice_only() -> str:
    return "hi alice"


@rpc_method(name="secured.counted", permissions=[Counted])
def counted() -> int:
    return Counted.checks


class StaffTools(RpcMethods):
    """Every method needs staff; ``purge`` needs a permission as well."""

    namespace = "staff"
    permission_classes = [IsStaff]

    def status(self) -> str:
        return "ok"

    @rpc_method(perms=["auth.delete_user"])
    def purge(self) -> str:
        return "purged"


class Fragile(RpcMethods):
    """Behind a permission that raises; not in the test settings (tests add it)."""

    namespace = "fragile"
    permission_classes = [Broken]

    def call(self) -> str:
        return "never"


# Test-only: what a leak would grow.


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@rpc_method
async def event_loop() -> str:
    """The class of the event loop this server runs on, as ``module.name``."""
    loop = type(asyncio.get_running_loop())
    return f"{loop.__module__}.{loop.__qualname__}"


@rpc_method
async def server_stats(collect: bool = True) -> dict[str, int]:
    """Tasks, hub routes, threads, live endpoints and RSS of this server process."""
    if collect:
        gc.collect()
    hub = current_hub()
    return {
        "tasks": len(asyncio.all_tasks()),
        "routes": sum(len(names) for names in hub.routes.topics.values()) if hub is not None else 0,
        "user_routes": sum(len(members) for members in hub.routes.users.values()) if hub is not None else 0,
        "connections": len(hub.connections) if hub is not None else 0,
        "presence_entries": sum(map(len, hub.attendance.entries.values())) if hub is not None else 0,
        "pending_calls": len(hub.calls) if hub is not None else 0,
        "threads": threading.active_count(),
        # The caller's own endpoint is one of them.
        "endpoints": sum(isinstance(o, Endpoint) for o in gc.get_objects()),
        "rss": _rss_bytes(),
    }
