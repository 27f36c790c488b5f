"""Connections whose credentials no longer hold are closed with 4003: logout, deactivation, token, password.

On the in-memory layer through the consumer; the admin logout across two
server processes is in ``tests/e2e/test_control_cluster.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import HASH_SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from rest_framework.authtoken.models import Token

from tests.support.pubsub import PATH, Peer, wsrpc
from wsrpc_app.consumers import RpcConsumer

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


@contextlib.asynccontextmanager
async def connected(scope: dict[str, Any]) -> AsyncIterator[Peer]:
    communicator = WebsocketCommunicator(RpcConsumer.as_asgi(), PATH)
    communicator.scope.update(scope)
    assert (await communicator.connect())[0]
    try:
        yield Peer(communicator)
    finally:
        await communicator.disconnect()


@database_sync_to_async
def session_of(user: Any) -> SessionStore:
    """A saved session of ``user``, as a login makes, loaded as the handshake leaves it."""
    session = SessionStore()
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session


async def closed_with(peer: Peer) -> tuple[int, str]:
    output: dict[str, Any] = await peer.ws.receive_output(timeout=3)
    while output["type"] != "websocket.close":
        output = await peer.ws.receive_output(timeout=3)
    return output["code"], output["reason"]


async def still_open(peer: Peer) -> bool:
    return bool(await peer.result("rpc.ping") == "pong")


@pytest.fixture
async def ann() -> Any:
    return await User.objects.acreate(username="ann")


@pytest.fixture
async def bob() -> Any:
    return await User.objects.acreate(username="bob")


async def test_logout_closes_the_connections_of_that_session(ann: Any, bob: Any) -> None:
    here, there = await session_of(ann), await session_of(ann)
    token = await Token.objects.acreate(user=ann)
    headers = [(b"authorization", f"Token {token.key}".encode())]
    async with (
        connected({"user": ann, "session": here}) as logged_out,
        connected({"user": ann, "session": there}) as other_session,
        connected({"user": ann, "headers": headers}) as by_token,
        connected({"user": bob, "session": await session_of(bob)}) as other_user,
    ):
        await database_sync_to_async(user_logged_out.send)(sender=User, request=SimpleNamespace(session=here), user=ann)
        assert await closed_with(logged_out) == (4003, "logged out")
        for peer in (other_session, by_token, other_user):
            assert await still_open(peer)


async def test_deactivating_a_user_closes_all_their_connections(ann: Any, bob: Any) -> None:
    async with (
        connected({"user": ann, "session": await session_of(ann)}) as one,
        connected({"user": ann}) as two,
        connected({"user": bob}) as other,
    ):
        ann.is_active = False
        await database_sync_to_async(ann.save)(update_fields=["is_active"])
        assert await closed_with(one) == (4003, "deactivated")
        assert await closed_with(two) == (4003, "deactivated")
        assert await still_open(other)


async def test_deleting_a_user_closes_their_connections(ann: Any) -> None:
    async with connected({"user": ann}) as peer:
        await database_sync_to_async(ann.delete)()
        assert await closed_with(peer) == (4003, "deleted")


async def test_deleting_a_token_closes_the_connections_it_authenticated(ann: Any) -> None:
    doomed, kept = (
        await Token.objects.acreate(user=ann),
        await Token.objects.acreate(user=await User.objects.acreate(username="cy")),
    )
    async with (
        connected({"user": ann, "headers": [(b"authorization", f"Token {doomed.key}".encode())]}) as by_doomed,
        connected({"user": kept.user, "headers": [(b"authorization", f"Token {kept.key}".encode())]}) as by_kept,
    ):
        await database_sync_to_async(doomed.delete)()
        assert await closed_with(by_doomed) == (4003, "token deleted")
        assert await still_open(by_kept)


async def test_a_password_change_closes_the_sessions_whose_hash_no_longer_matches(ann: Any) -> None:
    token = await Token.objects.acreate(user=ann)
    async with (
        connected({"user": ann, "session": await session_of(ann)}) as by_session,
        connected({"user": ann, "headers": [(b"authorization", f"Token {token.key}".encode())]}) as by_token,
    ):
        await database_sync_to_async(ann.save)(update_fields=["last_login"])  # no password change
        assert await still_open(by_session)
        ann.set_password("a new password")
        await database_sync_to_async(ann.save)()
        assert await closed_with(by_session) == (4003, "password changed")
        assert await still_open(by_token)


async def test_disconnect_on_turns_each_one_off(ann: Any) -> None:
    with override_settings(WSRPC=wsrpc(DISCONNECT_ON=["logout"])):
        async with connected({"user": ann, "session": await session_of(ann)}) as peer:
            ann.is_active = False
            await database_sync_to_async(ann.save)()
            ann.set_password("another")
            await database_sync_to_async(ann.save)()
            assert await still_open(peer)
