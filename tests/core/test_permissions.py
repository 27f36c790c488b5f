"""Who may call a method: the decorator's shortcuts, DRF's classes, composition, and what rpc.discover shows.

The methods are in tests/secured_methods.py. A refusal answers -32001 to an
anonymous caller and -32003 to anyone else.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.test import Client, override_settings
from rest_framework import permissions as drf
from rest_framework.authtoken.models import Token

from tests.support import secured_methods
from wsrpc_app.core.dispatch import Dispatcher
from wsrpc_app.core.registry import Method, Registry, rpc_method
from wsrpc_app.permissions import (
    AllowAny,
    BasePermission,
    HasPerms,
    IsAuthenticated,
    IsStaff,
    IsSuperuser,
    as_permission,
)
from wsrpc_app.testing import RpcError, RpcTestClient

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()

OK = "ok"
ANON = -32001
DENIED = -32003

#: Who calls: anonymous, alice (logged in), viewer (auth.view_user), editor
#: (view and change), staff (is_staff, no permissions), root (superuser).
WHO = ("anonymous", "alice", "viewer", "editor", "staff", "root")

#: method -> the outcome for each of WHO, in that order.
MATRIX: dict[str, tuple[Any, ...]] = {
    "subtract": (OK, OK, OK, OK, OK, OK),
    "secured.login": (ANON, OK, OK, OK, OK, OK),
    "secured.staff": (ANON, DENIED, DENIED, DENIED, OK, OK),
    "secured.perm": (ANON, DENIED, OK, OK, DENIED, OK),
    "secured.perms": (ANON, DENIED, DENIED, OK, DENIED, OK),
    "secured.drf_authenticated": (ANON, OK, OK, OK, OK, OK),
    "secured.drf_admin": (ANON, DENIED, DENIED, DENIED, OK, OK),
    "secured.drf_composed": (ANON, DENIED, DENIED, DENIED, OK, OK),
    "secured.drf_not": (OK, DENIED, DENIED, DENIED, DENIED, DENIED),
    "secured.drf_mixed": (ANON, DENIED, OK, OK, DENIED, OK),
    "secured.staff_or_perm": (ANON, DENIED, OK, OK, OK, OK),
    "secured.member": (ANON, OK, OK, OK, DENIED, DENIED),
    "secured.anonymous": (OK, DENIED, DENIED, DENIED, DENIED, DENIED),
    "secured.superuser_or_drf_admin": (ANON, DENIED, DENIED, DENIED, OK, OK),
    "secured.alice": (ANON, OK, DENIED, DENIED, DENIED, DENIED),
    "staff.status": (ANON, DENIED, DENIED, DENIED, OK, OK),
    "staff.purge": (ANON, DENIED, DENIED, DENIED, DENIED, OK),
}

PARAMS: dict[str, list[Any]] = {"subtract": [5, 3]}


def make_users() -> dict[str, Any]:
    view = Permission.objects.get(codename="view_user", content_type__app_label="auth")
    change = Permission.objects.get(codename="change_user", content_type__app_label="auth")
    viewer = User.objects.create_user("viewer")
    viewer.user_permissions.add(view)
    editor = User.objects.create_user("editor")
    editor.user_permissions.add(view, change)
    return {
        "anonymous": AnonymousUser(),
        "alice": User.objects.create_user("alice"),
        # Fetched again: permissions are cached on the instance.
        "viewer": User.objects.get(pk=viewer.pk),
        "editor": User.objects.get(pk=editor.pk),
        "staff": User.objects.create_user("stella", is_staff=True),
        "root": User.objects.create_superuser("root"),
    }


@pytest.fixture
async def users() -> dict[str, Any]:
    return await sync_to_async(make_users)()


async def outcome(client: RpcTestClient, method: str) -> Any:
    try:
        await client.call(method, *PARAMS.get(method, []))
    except RpcError as error:
        return error.code
    return OK


def allowed_to(who: str) -> set[str]:
    return {method for method, outcomes in MATRIX.items() if outcomes[WHO.index(who)] == OK}


# The matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
async def test_matrix(users: dict[str, Any], who: str) -> None:
    async with RpcTestClient(user=users[who]) as client:
        got = {method: await outcome(client, method) for method in MATRIX}
    assert got == {method: outcomes[WHO.index(who)] for method, outcomes in MATRIX.items()}


async def test_no_user_in_the_scope_counts_as_anonymous() -> None:
    async with RpcTestClient() as client:  # no authentication middleware at all
        assert await outcome(client, "secured.login") == ANON
        assert await outcome(client, "secured.anonymous") == OK


async def test_reserved_methods_need_nothing(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["anonymous"]) as client:
        assert await client.call("rpc.ping") == "pong"
        assert "methods" in await client.call("rpc.discover")


# The error objects ---------------------------------------------------------------------------


async def test_refusal_error_objects(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["anonymous"]) as anonymous:
        with pytest.raises(RpcError) as not_logged_in:
            await anonymous.call("secured.staff")
    async with RpcTestClient(user=users["alice"]) as alice:
        with pytest.raises(RpcError) as not_staff:
            await alice.call("secured.staff")
        with pytest.raises(RpcError) as missing:
            await alice.call("secured.perms")
    assert (not_logged_in.value.code, not_logged_in.value.message) == (ANON, "Not authenticated")
    assert not_logged_in.value.data == {"method": "secured.staff"}
    assert (not_staff.value.code, not_staff.value.message) == (DENIED, "Only staff may call this method")
    assert not_staff.value.data == {"method": "secured.staff"}
    assert missing.value.message == "Missing permission: auth.view_user, auth.change_user"


async def test_custom_class_message(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["viewer"]) as client:
        with pytest.raises(RpcError) as refused:
            await client.call("secured.alice")
    assert (refused.value.code, refused.value.message) == (DENIED, "Only alice may call this method")


async def test_and_reports_the_part_that_refused(users: dict[str, Any]) -> None:
    # One instance of IsAuthenticated & ~IsStaff serves every connection: an
    # anonymous refusal first must not colour the next one.
    async with RpcTestClient(user=users["anonymous"]) as anonymous:
        assert await outcome(anonymous, "secured.member") == ANON
    async with RpcTestClient(user=users["staff"]) as staff:
        with pytest.raises(RpcError) as refused:
            await staff.call("secured.member")
    assert (refused.value.code, refused.value.message) == (DENIED, "Permission denied")


async def test_permissions_are_checked_before_params(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["anonymous"]) as client:
        with pytest.raises(RpcError) as refused:
            await client.call("secured.staff", "unexpected", "params")
    assert refused.value.code == ANON


async def test_unknown_method_is_still_not_found(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["anonymous"]) as client:
        with pytest.raises(RpcError) as missing:
            await client.call("secured.nope")
    assert missing.value.code == -32601


async def test_refusals_in_a_batch_are_answered_one_by_one(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["alice"]) as client:
        results = await client.batch([("secured.login", None), ("secured.staff", None), ("subtract", [2, 1])])
    assert results[0] == "alice"
    assert isinstance(results[1], RpcError) and results[1].code == DENIED
    assert results[2] == 1


async def test_a_refused_notification_gets_no_reply(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["anonymous"]) as client:
        await client.notify("secured.staff")
        assert await client.call("rpc.ping") == "pong"


# A permission that raises ------------------------------------------------------------------------


async def test_a_permission_that_raises_answers_internal_error_and_is_left_out_of_discover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    methods = [*settings.WSRPC["METHODS"], "tests.support.secured_methods.Fragile"]
    with override_settings(WSRPC={**settings.WSRPC, "METHODS": methods}):
        async with RpcTestClient() as client:
            with pytest.raises(RpcError) as failed:
                await client.call("fragile.call")
            names = {method["name"] for method in (await client.call("rpc.discover"))["methods"]}
            assert await client.call("subtract", 2, 1) == 1
    assert (failed.value.code, failed.value.message, failed.value.data) == (-32603, "Internal error", None)
    assert "fragile.call" not in names
    assert "subtract" in names
    assert "secret permission internals" in caplog.text  # logged for the developer, not sent


# Caching ------------------------------------------------------------------------------------------


async def test_decisions_are_cached_per_connection() -> None:
    before = secured_methods.Counted.checks
    async with RpcTestClient() as client:
        for _ in range(3):
            await client.call("secured.counted")
        await client.call("rpc.discover")
        assert secured_methods.Counted.checks == before + 1
    async with RpcTestClient() as client:
        await client.call("secured.counted")
    assert secured_methods.Counted.checks == before + 2


async def test_a_new_permission_counts_from_the_next_connection(users: dict[str, Any]) -> None:
    alice = users["alice"]
    async with RpcTestClient(user=alice) as client:
        assert await outcome(client, "secured.perm") == DENIED
        view = await Permission.objects.aget(codename="view_user", content_type__app_label="auth")
        await alice.user_permissions.aadd(view)
        assert await outcome(client, "secured.perm") == DENIED  # decided for this connection
    async with RpcTestClient(user=await User.objects.aget(pk=alice.pk)) as client:
        assert await outcome(client, "secured.perm") == OK


async def test_the_decision_cache_is_per_dispatcher() -> None:
    counted = Method.from_callable("secured.counted", secured_methods.counted)  # its own Counted
    before = secured_methods.Counted.checks
    first, second = Dispatcher(Registry([counted])), Dispatcher(Registry([counted]))
    assert await first.refusal(counted, None) is None
    assert await first.refusal(counted, None) is None
    assert await second.refusal(counted, None) is None
    assert secured_methods.Counted.checks == before + 2


# rpc.discover ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "alice", "staff", "root"])
async def test_discover_lists_only_what_the_connection_may_call(users: dict[str, Any], who: str) -> None:
    async with RpcTestClient(user=users[who]) as client:
        names = {method["name"] for method in (await client.call("rpc.discover"))["methods"]}
    assert names & set(MATRIX) == allowed_to(who)
    assert {"rpc.ping", "rpc.discover", "rpc.subscribe"} <= names


async def test_discover_anonymous_versus_staff(users: dict[str, Any]) -> None:
    async with RpcTestClient(user=users["anonymous"]) as anonymous:
        seen_by_anonymous = {m["name"] for m in (await anonymous.call("rpc.discover"))["methods"]}
    async with RpcTestClient(user=users["staff"]) as staff:
        seen_by_staff = {m["name"] for m in (await staff.call("rpc.discover"))["methods"]}
    assert seen_by_staff - seen_by_anonymous >= {"staff.status", "secured.staff", "secured.login"}
    assert seen_by_anonymous - seen_by_staff == {"secured.anonymous", "secured.drf_not"}
    assert "staff.purge" not in seen_by_staff


# Over HTTP ---------------------------------------------------------------------------------------


def http_call(client: Client, method: str, **headers: str) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": PARAMS.get(method, []), "id": 1})
    return client.post("/wsrpc/rpc/", data=body, content_type="application/json", headers=headers).json()


def test_same_permissions_over_http(client: Client) -> None:
    users = make_users()
    token = Token.objects.create(user=users["staff"])
    assert http_call(client, "secured.staff")["error"]["code"] == ANON
    assert http_call(client, "secured.staff", Authorization=f"Token {token.key}")["result"] == "staff"
    client.force_login(users["alice"])
    assert http_call(client, "secured.staff")["error"]["code"] == DENIED
    assert http_call(client, "secured.login")["result"] == "alice"
    names = {m["name"] for m in http_call(client, "rpc.discover")["result"]["methods"]}
    assert names & set(MATRIX) == allowed_to("alice")


# Composition, without a connection ------------------------------------------------------------------


class Caller:
    """Stands for a connection: what permissions look at."""

    def __init__(self, user: Any) -> None:
        self.user = user


def allows(permission: Any, user: Any) -> bool:
    return bool(as_permission(permission).has_permission(Caller(user), None))


@pytest.mark.parametrize(
    ("permission", "staff", "anonymous"),
    [
        pytest.param(AllowAny, True, True, id="AllowAny"),
        pytest.param(IsAuthenticated, True, False, id="IsAuthenticated"),
        pytest.param(~IsAuthenticated, False, True, id="~IsAuthenticated"),
        pytest.param(IsStaff & IsAuthenticated, True, False, id="IsStaff & IsAuthenticated"),
        pytest.param(IsSuperuser | IsStaff, True, False, id="IsSuperuser | IsStaff"),
        pytest.param(IsSuperuser & IsStaff, False, False, id="IsSuperuser & IsStaff"),
        pytest.param(~(IsSuperuser | IsStaff), False, True, id="~(IsSuperuser | IsStaff)"),
        pytest.param(IsStaff(), True, False, id="IsStaff()"),
        pytest.param(IsStaff() | AllowAny(), True, True, id="IsStaff() | AllowAny()"),
        pytest.param(drf.IsAuthenticated, True, False, id="drf.IsAuthenticated"),
        pytest.param(drf.IsAdminUser & drf.IsAuthenticated, True, False, id="drf.IsAdminUser & drf.IsAuthenticated"),
        pytest.param(~drf.IsAdminUser, False, True, id="~drf.IsAdminUser"),
        pytest.param(drf.IsAuthenticated | IsSuperuser, True, False, id="drf.IsAuthenticated | IsSuperuser"),
        pytest.param(IsSuperuser | drf.IsAdminUser, True, False, id="IsSuperuser | drf.IsAdminUser"),
        pytest.param(drf.IsAuthenticated & HasPerms("auth.view_user"), False, False, id="drf & HasPerms"),
        pytest.param(~drf.IsAuthenticated | HasPerms("auth.view_user"), False, True, id="~drf | HasPerms"),
    ],
)
def test_composition(permission: Any, staff: bool, anonymous: bool) -> None:
    stella = User.objects.create_user("stella", is_staff=True)
    assert allows(permission, stella) is staff
    assert allows(permission, AnonymousUser()) is anonymous


def test_login_required_comes_first() -> None:
    @rpc_method(permissions=[HasPerms("auth.view_user")], login_required=True, staff_required=True)
    def guarded() -> None: ...

    method = Method.from_callable("guarded", guarded)
    assert [type(p) for p in method.permissions] == [IsAuthenticated, HasPerms, IsStaff]


def test_class_permissions_come_before_the_methods_own() -> None:
    [purge, status] = sorted(Registry.from_entries([secured_methods.StaffTools]), key=lambda m: m.name)
    assert [type(p) for p in purge.permissions] == [IsStaff, HasPerms]
    assert [type(p) for p in status.permissions] == [IsStaff]


def test_a_subclass_of_base_permission() -> None:
    assert allows(secured_methods.IsNamedAlice, User(username="alice"))
    assert not allows(secured_methods.IsNamedAlice, User(username="bob"))
    assert not allows(secured_methods.IsNamedAlice, AnonymousUser())
    assert isinstance(as_permission(secured_methods.IsNamedAlice), BasePermission)


def test_a_combination_can_be_given_its_own_message() -> None:
    both = IsStaff & HasPerms("auth.view_user")
    assert not allows(both, AnonymousUser())
    assert both.message == "Only staff may call this method"
    both.message = "Staff with auth.view_user only"
    assert not allows(both, AnonymousUser())
    assert both.message == "Staff with auth.view_user only"


@pytest.mark.parametrize("thing", [42, None, "IsStaff", object], ids=repr)
def test_anything_else_is_not_a_permission(thing: object) -> None:
    with pytest.raises(TypeError):
        as_permission(thing)
