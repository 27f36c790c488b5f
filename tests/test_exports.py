"""The public names: the package root's list is pinned, and every public module declares its own."""

from __future__ import annotations
import __future__

import importlib
import pkgutil
from types import ModuleType

import pytest

import wsrpc_app

ROOT_EXPORTS = [
    "Connection",
    "RpcError",
    "RpcMethods",
    "rpc_method",
    "Progress",
    "publish",
    "apublish",
    "notify_user",
    "anotify_user",
    "history",
    "ahistory",
    "presence",
    "apresence",
    "presence_stats",
    "apresence_stats",
    "subscribe_user",
    "asubscribe_user",
    "unsubscribe_user",
    "aunsubscribe_user",
    "disconnect_user",
    "adisconnect_user",
    "disconnect_connection",
    "adisconnect_connection",
    "call_user",
    "acall_user",
    "call_connection",
    "acall_connection",
    "refresh_permissions",
    "arefresh_permissions",
    "__version__",
]


#: Packages Django loads by convention, never imported by a user's code.
CONVENTION_PACKAGES = {"migrations", "management", "templatetags"}


def public_modules() -> list[str]:
    """Every module of the package except private ones and the ones Django loads by convention."""
    names = []
    for info in pkgutil.walk_packages(wsrpc_app.__path__, prefix="wsrpc_app."):
        parts = info.name.split(".")
        if CONVENTION_PACKAGES & set(parts) or any(part.startswith("_") for part in parts):
            continue
        names.append(info.name)
    return sorted(names)


def public_attributes(module: ModuleType) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, __future__._Feature)
    ]


def test_root_exports_are_pinned() -> None:
    assert wsrpc_app.__all__ == ROOT_EXPORTS


def test_star_import_gives_exactly_the_root_exports() -> None:
    namespace: dict[str, object] = {}
    exec("from wsrpc_app import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(ROOT_EXPORTS)


def test_root_exports_are_the_defining_objects() -> None:
    from wsrpc_app.core.registry import RpcMethods, rpc_method
    from wsrpc_app.errors import RpcError
    from wsrpc_app.pubsub.history import ahistory, history
    from wsrpc_app.pubsub.publishing import anotify_user, apublish, notify_user, publish
    from wsrpc_app.server.connection import Connection

    assert wsrpc_app.Connection is Connection
    assert wsrpc_app.RpcError is RpcError
    assert wsrpc_app.RpcMethods is RpcMethods
    assert wsrpc_app.rpc_method is rpc_method
    assert wsrpc_app.publish is publish
    assert wsrpc_app.apublish is apublish
    assert wsrpc_app.notify_user is notify_user
    assert wsrpc_app.anotify_user is anotify_user
    assert wsrpc_app.history is history
    assert wsrpc_app.ahistory is ahistory


def test_version_is_a_release_string() -> None:
    assert isinstance(wsrpc_app.__version__, str)
    assert all(part.isdigit() for part in wsrpc_app.__version__.split(".")[:3])


def test_the_modules_the_spec_names_are_found() -> None:
    assert {"wsrpc_app.consumers", "wsrpc_app.routing", "wsrpc_app.http.views", "wsrpc_app.urls"} <= set(
        public_modules()
    )


@pytest.mark.parametrize("name", public_modules())
def test_public_module_declares_all(name: str) -> None:
    module = importlib.import_module(name)
    if not public_attributes(module):
        return  # an empty package has nothing to export
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    missing = [attribute for attribute in exported if not hasattr(module, attribute)]
    assert missing == [], f"{name}.__all__ lists names it does not define"
