"""System checks of the WSRPC setting: each id, asserted as the exact list ``run_checks()`` returns."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from wsrpc_app.conf import LIMITS


def wsrpc_messages() -> list[Any]:
    return [m for m in run_checks() if m.id and m.id.startswith("wsrpc_app.")]


def wsrpc_ids() -> list[str]:
    return [m.id for m in wsrpc_messages()]


def wsrpc(**overrides: Any) -> dict[str, Any]:
    """The test settings' WSRPC with some keys replaced."""
    return {**settings.WSRPC, **overrides}


def test_test_settings_pass() -> None:
    assert wsrpc_ids() == []


@override_settings()
def test_no_wsrpc_setting_at_all_passes() -> None:
    del settings.WSRPC
    assert wsrpc_ids() == []


def test_empty_wsrpc_passes() -> None:
    with override_settings(WSRPC={}):
        assert wsrpc_ids() == []


def test_every_message_has_a_hint() -> None:
    with override_settings(WSRPC={"METHOD": [], "METHODS": ["nope.nope"], "MAX_IN_FLIGHT": 0, "CHANNEL_LAYER": "x"}):
        messages = wsrpc_messages()
    assert len(messages) == 4
    assert all(m.hint for m in messages)


# E001 -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [["tests.support.methods"], None, "tests.support.methods", 1], ids=repr)
def test_e001_wsrpc_not_a_dict(value: Any) -> None:
    with override_settings(WSRPC=value):
        assert wsrpc_ids() == ["wsrpc_app.E001"]


# W001 -------------------------------------------------------------------------


def test_w001_unknown_key() -> None:
    with override_settings(WSRPC=wsrpc(METHOD=["tests.support.methods.subtract"])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.W001"]
    assert "'METHOD'" in messages[0].msg
    assert "METHODS" in messages[0].hint


def test_w001_keys_are_case_sensitive() -> None:
    with override_settings(WSRPC=wsrpc(max_in_flight=3)):
        assert wsrpc_ids() == ["wsrpc_app.W001"]


def test_w001_once_per_unknown_key() -> None:
    with override_settings(WSRPC=wsrpc(TIMEOUT=1, LIMIT=2)):
        assert wsrpc_ids() == ["wsrpc_app.W001", "wsrpc_app.W001"]


# E002 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "methods",
    ["tests.support.methods", {"tests.support.methods": True}, ["tests.support.methods", 42], [None], 3],
    ids=repr,
)
def test_e002_methods_not_a_list_of_paths(methods: Any) -> None:
    with override_settings(WSRPC=wsrpc(METHODS=methods)):
        assert wsrpc_ids() == ["wsrpc_app.E002"]


def test_methods_as_a_tuple_pass() -> None:
    with override_settings(WSRPC=wsrpc(METHODS=("tests.support.methods", "demo_project.methods"))):
        assert wsrpc_ids() == []


# E003 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "tests.support.checks_fixtures.no_such_module",
        "wsrpc_no_such_package.add",
        "tests.support.methods.no_such_function",
        "tests.support.checks_fixtures.broken_import",
        "tests.support.checks_fixtures.broken_import.anything",
        "tests.support.checks_fixtures.raises_on_import",
        "tests.support.checks_fixtures.bad_entries.CONSTANT",
        "tests.support.checks_fixtures.bad_entries.NotMethods",
        "tests.support.checks_fixtures.bad_entries.NeedsArguments",
        "tests.support.checks_fixtures.bad_entries.unresolvable_hint",
        "",
    ],
)
def test_e003_entry_cannot_be_registered(entry: str) -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.methods", entry])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E003"]
    assert repr(entry) in messages[0].msg


def test_e003_once_per_bad_entry() -> None:
    methods = [
        "tests.support.methods.no_such_function",
        "tests.support.methods.subtract",
        "tests.support.checks_fixtures.no_such_module",
    ]
    with override_settings(WSRPC=wsrpc(METHODS=methods)):
        assert wsrpc_ids() == ["wsrpc_app.E003", "wsrpc_app.E003"]


def test_e003_names_the_missing_attribute() -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.methods.no_such_function"])):
        [message] = wsrpc_messages()
    assert "no_such_function" in message.msg


def test_e003_param_type_pydantic_refuses() -> None:
    # A dataclass holding a class pydantic has no schema for, refused on every Python version.
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.checks_fixtures.opaque_fields"])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E003"]
    assert "'opaque.unwrap' (tests.support.checks_fixtures.opaque_fields.unwrap)" in messages[0].msg
    assert "'wrapped'" in messages[0].msg
    assert "Unable to generate pydantic-core schema" in messages[0].msg


def test_e003_typing_typed_dict_before_python_3_12() -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.checks_fixtures.typed_dicts"])):
        messages = wsrpc_messages()
    if sys.version_info >= (3, 12):  # pydantic takes typing.TypedDict from Python 3.12 on
        assert messages == []
        return
    assert [m.id for m in messages] == ["wsrpc_app.E003"]
    assert "'typed.manhattan' (tests.support.checks_fixtures.typed_dicts.manhattan)" in messages[0].msg
    assert "'point'" in messages[0].msg
    assert "Please use `typing_extensions.TypedDict` instead of `typing.TypedDict`" in messages[0].msg


@pytest.fixture
def generic_models() -> Iterator[str]:
    """The fixture module's name, for the test to import afresh: pydantic adds to its namespace only once."""
    name = "tests.support.checks_fixtures.generic_models"
    sys.modules.pop(name, None)
    yield name
    sys.modules.pop(name, None)


def test_methods_module_whose_hints_parametrize_generic_models_passes(generic_models: str) -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.methods", generic_models])):
        assert wsrpc_messages() == []


# E004 -------------------------------------------------------------------------


def test_e004_two_entries_expose_the_same_name() -> None:
    # tests.support.checks_fixtures.duplicate declares add(), as demo_project.methods does.
    with override_settings(WSRPC=wsrpc(METHODS=["demo_project.methods", "tests.support.checks_fixtures.duplicate"])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E004"]
    assert "'add'" in messages[0].msg
    assert "demo_project.methods.add" in messages[0].msg
    assert "tests.support.checks_fixtures.duplicate.add" in messages[0].msg


def test_e004_same_entry_listed_twice() -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.methods.subtract", "tests.support.methods.subtract"])):
        assert wsrpc_ids() == ["wsrpc_app.E004"]


def test_e004_namespaced_classes_clash() -> None:
    methods = ["demo_project.methods.Calculator", "tests.support.checks_fixtures.duplicate.OtherCalculator"]
    with override_settings(WSRPC=wsrpc(METHODS=methods)):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E004"]
    assert "'calc.multiply'" in messages[0].msg


def test_different_namespaces_do_not_clash() -> None:
    # Calculator.multiply is calc.multiply; the module's add is not namespaced.
    with override_settings(
        WSRPC=wsrpc(METHODS=["demo_project.methods.Calculator", "tests.support.checks_fixtures.duplicate"])
    ):
        assert wsrpc_ids() == []


# E005 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "tests.support.checks_fixtures.reserved",
        "tests.support.checks_fixtures.reserved.x",
        "tests.support.checks_fixtures.reserved.Extensions",
    ],
)
def test_e005_reserved_name(entry: str) -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.methods", entry])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E005"]
    assert "'rpc." in messages[0].msg


# E006 -------------------------------------------------------------------------


@override_settings()
def test_e006_no_channel_layers_setting() -> None:
    del settings.CHANNEL_LAYERS
    assert wsrpc_ids() == ["wsrpc_app.E006"]


def test_e006_empty_channel_layers() -> None:
    with override_settings(CHANNEL_LAYERS={}):
        assert wsrpc_ids() == ["wsrpc_app.E006"]


@pytest.mark.parametrize("alias", ["nope", None, 0])
def test_e006_alias_not_configured(alias: Any) -> None:
    with override_settings(WSRPC=wsrpc(CHANNEL_LAYER=alias)):
        assert wsrpc_ids() == ["wsrpc_app.E006"]


def test_other_configured_alias_passes() -> None:
    rpc_layer = {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}
    layers = {**settings.CHANNEL_LAYERS, "rpc": rpc_layer}
    with override_settings(CHANNEL_LAYERS=layers, WSRPC=wsrpc(CHANNEL_LAYER="rpc")):
        assert wsrpc_ids() == []


# W002 -------------------------------------------------------------------------

#: A Redis host whose reads outwait RedisChannelLayer's 5 s blocking pop (see W003).
SLOW_READS = {"address": "redis://x", "socket_timeout": 15}


@pytest.mark.parametrize(
    "layer",
    [
        {"BACKEND": "channels.layers.InMemoryChannelLayer"},
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [SLOW_READS]}},
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [SLOW_READS], "capacity": 999}},
    ],
    ids=["memory-default", "redis-default", "redis-999"],
)
def test_w002_small_capacity(layer: dict[str, Any]) -> None:
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        assert wsrpc_ids() == ["wsrpc_app.W002"]


@pytest.mark.parametrize(
    "layer",
    [
        {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}},
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [SLOW_READS], "capacity": 50_000}},
        {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": ["redis://x"]}},
    ],
    ids=["memory-1000", "redis-50000", "pubsub"],
)
def test_w002_not_for_enough_capacity_or_unbounded_layers(layer: dict[str, Any]) -> None:
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        assert wsrpc_ids() == []


# W003 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hosts",
    [
        None,
        ["redis://x"],
        [{"address": "redis://x"}],
        [{"address": "redis://x", "socket_timeout": 5}],
        [SLOW_READS, "redis://y"],
    ],
    ids=["default", "url", "dict-without", "dict-5s", "one-of-two"],
)
def test_w003_redis_layer_without_a_long_socket_timeout(hosts: Any) -> None:
    config: dict[str, Any] = {"capacity": 5000}
    if hosts is not None:
        config["hosts"] = hosts
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    ):
        assert wsrpc_ids() == ["wsrpc_app.W003"]


@pytest.mark.parametrize("timeout", [15, 5.5, None])
def test_w003_not_with_a_long_or_no_socket_timeout(timeout: Any) -> None:
    host = {"address": "redis://x", "socket_timeout": timeout}
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host], "capacity": 5000}}
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        assert wsrpc_ids() == []


# E007 -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, "10", True, False, -0.5, float("nan"), [10]], ids=repr)
@pytest.mark.parametrize("key", sorted(LIMITS))
def test_e007_bad_limit(key: str, value: Any) -> None:
    with override_settings(WSRPC=wsrpc(**{key: value})):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E007"]
    assert repr(key) in messages[0].msg


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_none_disables_a_limit(key: str) -> None:
    with override_settings(WSRPC=wsrpc(**{key: None})):
        assert wsrpc_ids() == []


@pytest.mark.parametrize("key", ["MAX_MESSAGE_BYTES", "MAX_BATCH_LENGTH", "MAX_IN_FLIGHT", "THREAD_POOL_SIZE"])
def test_e007_counts_must_be_integers(key: str) -> None:
    with override_settings(WSRPC=wsrpc(**{key: 10.0})):
        assert wsrpc_ids() == ["wsrpc_app.E007"]


@pytest.mark.parametrize("key", ["CALL_TIMEOUT", "METHOD_TIME_LIMIT"])
def test_timeouts_may_be_fractional(key: str) -> None:
    with override_settings(WSRPC=wsrpc(**{key: 0.25})):
        assert wsrpc_ids() == []


def test_e007_once_per_bad_limit() -> None:
    with override_settings(WSRPC=wsrpc(MAX_IN_FLIGHT=0, CALL_TIMEOUT="30")):
        assert wsrpc_ids() == ["wsrpc_app.E007", "wsrpc_app.E007"]


# E008 -------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["maybe", "Deny", None, True])
def test_e008_bad_topic_default_policy(policy: Any) -> None:
    with override_settings(WSRPC=wsrpc(TOPIC_DEFAULT_POLICY=policy)):
        assert wsrpc_ids() == ["wsrpc_app.E008"]


@pytest.mark.parametrize("policy", ["deny", "allow"])
def test_topic_default_policies(policy: str) -> None:
    with override_settings(WSRPC=wsrpc(TOPIC_DEFAULT_POLICY=policy)):
        assert wsrpc_ids() == []


# E009 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "middlewares",
    [
        "tests.support.middlewares.outer",
        {"tests.support.middlewares.outer": True},
        [None],
        ["tests.support.middlewares.outer", 3],
        3,
    ],
    ids=repr,
)
def test_e009_middlewares_not_a_list_of_paths(middlewares: Any) -> None:
    with override_settings(WSRPC=wsrpc(MIDDLEWARES=middlewares)):
        assert wsrpc_ids() == ["wsrpc_app.E009"]


@pytest.mark.parametrize(
    "entry",
    [
        "tests.support.middlewares.no_such_middleware",
        "wsrpc_no_such_package.middleware",
        "tests.support.checks_fixtures.broken_import.middleware",
        "tests.support.checks_fixtures.raises_on_import",
        "",
    ],
)
def test_e009_entry_does_not_import(entry: str) -> None:
    with override_settings(WSRPC=wsrpc(MIDDLEWARES=["tests.support.middlewares.outer", entry])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E009"]
    assert repr(entry) in messages[0].msg
    assert "async def middleware(request, handler)" in messages[0].hint


@pytest.mark.parametrize("entry", ["tests.support.middlewares.TRACE", "tests.support.middlewares"])
def test_e009_entry_not_callable(entry: str) -> None:
    with override_settings(WSRPC=wsrpc(MIDDLEWARES=[entry])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E009"]
    assert "not callable" in messages[0].msg


def test_e009_once_per_bad_entry() -> None:
    entries = [
        "tests.support.middlewares.no_such_middleware",
        "tests.support.middlewares.outer",
        "tests.support.middlewares.TRACE",
    ]
    with override_settings(WSRPC=wsrpc(MIDDLEWARES=entries)):
        assert wsrpc_ids() == ["wsrpc_app.E009", "wsrpc_app.E009"]


@pytest.mark.parametrize(
    "middlewares",
    [[], ["tests.support.middlewares.outer", "tests.support.middlewares.inner"], ("tests.support.middlewares.record",)],
    ids=repr,
)
def test_middlewares_pass(middlewares: Any) -> None:
    with override_settings(WSRPC=wsrpc(MIDDLEWARES=middlewares)):
        assert wsrpc_ids() == []


# E010 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origins",
    ["https://example.com", [1], ["https://example.com", None], {"https://example.com"}, 0, b"x"],
    ids=repr,
)
def test_e010_allowed_origins_not_a_list_of_strings(origins: Any) -> None:
    with override_settings(WSRPC=wsrpc(ALLOWED_ORIGINS=origins)):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E010"]
    assert "ALLOWED_ORIGINS" in messages[0].msg
    assert messages[0].hint


@pytest.mark.parametrize("value", ["yes", 1, 0, None, "False"], ids=repr)
def test_e010_allow_no_origin_not_a_bool(value: Any) -> None:
    with override_settings(WSRPC=wsrpc(ALLOW_NO_ORIGIN=value)):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E010"]
    assert "ALLOW_NO_ORIGIN" in messages[0].msg


def test_e010_once_per_bad_key() -> None:
    with override_settings(WSRPC=wsrpc(ALLOWED_ORIGINS="*", ALLOW_NO_ORIGIN="no")):
        assert wsrpc_ids() == ["wsrpc_app.E010", "wsrpc_app.E010"]


@pytest.mark.parametrize(
    "origins",
    [None, [], ["*"], ["https://example.com", ".example.org", "localhost"], ("https://example.com",)],
    ids=repr,
)
@pytest.mark.parametrize("allow_no_origin", [True, False])
def test_origins_pass(origins: Any, allow_no_origin: bool) -> None:
    with override_settings(WSRPC=wsrpc(ALLOWED_ORIGINS=origins, ALLOW_NO_ORIGIN=allow_no_origin)):
        assert wsrpc_ids() == []


# Together ---------------------------------------------------------------------


def test_several_problems_are_all_reported() -> None:
    bad = {
        "METHODS": ["tests.support.methods.subtract", "tests.support.methods.no_such_function"],
        "METHOD": [],
        "CHANNEL_LAYER": "nope",
        "MAX_IN_FLIGHT": 0,
    }
    with override_settings(WSRPC=bad):
        assert wsrpc_ids() == ["wsrpc_app.W001", "wsrpc_app.E003", "wsrpc_app.E006", "wsrpc_app.E007"]


def test_manage_py_check_fails_on_an_error() -> None:
    with override_settings(WSRPC=wsrpc(MAX_IN_FLIGHT=0)), pytest.raises(SystemCheckError, match=r"wsrpc_app\.E007"):
        call_command("check")


def test_manage_py_check_passes_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    with override_settings(WSRPC=wsrpc(METHOD=[])):
        call_command("check")
    assert "wsrpc_app.W001" in capsys.readouterr().err


# History -----------------------------------------------------------------------


def test_w004_a_layer_that_keeps_no_history() -> None:
    layer = {"BACKEND": "tests.support.pubsub.SomeOtherLayer", "CONFIG": {}}
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        messages = [m for m in wsrpc_messages() if m.id == "wsrpc_app.W004"]
    assert len(messages) == 1 and "keeps no topic history" in messages[0].msg


@pytest.mark.parametrize("hosts", [[], "redis://x", {"address": "redis://x"}, 3])
def test_e011_history_hosts_not_a_list(hosts: Any) -> None:
    with override_settings(WSRPC=wsrpc(HISTORY_HOSTS=hosts)):
        assert wsrpc_ids() == ["wsrpc_app.E011"]


def test_history_hosts_as_a_list_pass() -> None:
    with override_settings(WSRPC=wsrpc(HISTORY_HOSTS=["redis://127.0.0.1:6379/1"], MAX_RECOVERED=50)):
        assert wsrpc_ids() == []


@pytest.mark.parametrize("value", [0, -1, 2.5, "300"])
def test_e007_max_recovered(value: Any) -> None:
    with override_settings(WSRPC=wsrpc(MAX_RECOVERED=value)):
        assert wsrpc_ids() == ["wsrpc_app.E007"]


@pytest.mark.django_db
def test_e012_topic_rows_with_history_out_of_range() -> None:
    from wsrpc_app.models import MAX_HISTORY_SIZE, Topic

    Topic.objects.create(name="fine", history_size=10, history_ttl=60)
    Topic.objects.create(name="huge", history_size=MAX_HISTORY_SIZE + 1, history_ttl=60)
    Topic.objects.create(name="forever", history_size=1, history_ttl=0)
    Topic.objects.create(name="off", history_size=0, history_ttl=0)  # no history: its lifetime does not matter
    messages = [m for m in run_checks(tags=["database"], databases=["default"]) if m.id == "wsrpc_app.E012"]
    assert sorted(m.obj.name for m in messages) == ["forever", "huge"]
    assert wsrpc_ids() == [], "without --database the rows are not read"


# E013 -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["10.0.0.1", [1], ["10.0.0.1", None], None, {"10.0.0.1"}], ids=repr)
def test_e013_trusted_proxies_not_a_list_of_strings(value: Any) -> None:
    with override_settings(WSRPC=wsrpc(TRUSTED_PROXIES=value)):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E013"]
    assert "TRUSTED_PROXIES" in messages[0].msg
    assert messages[0].hint


def test_e013_once_per_entry_that_is_no_address() -> None:
    with override_settings(WSRPC=wsrpc(TRUSTED_PROXIES=["10.0.0.1", "proxy.local", "10.0.0.0/33"])):
        messages = wsrpc_messages()
    assert [m.id for m in messages] == ["wsrpc_app.E013", "wsrpc_app.E013"]
    assert "'proxy.local'" in messages[0].msg


def test_trusted_proxies_as_addresses_and_networks_pass() -> None:
    with override_settings(WSRPC=wsrpc(TRUSTED_PROXIES=["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"])):
        assert wsrpc_ids() == []
