"""System checks for the ``WSRPC`` setting (``manage.py check``).

=============  =========================================================
id             problem
=============  =========================================================
E001           ``WSRPC`` is not a dict
W001           ``WSRPC`` has a key this app does not know (a typo?)
E002           ``METHODS`` is not a list of dotted paths
E003           a ``METHODS`` entry cannot be imported or registered, or a
               method's param has a type pydantic refuses
E004           two entries declare the same method name
E005           a method name starts with the reserved ``rpc.``
E006           no channel layer is configured under ``CHANNEL_LAYER``
E007           a limit or timeout is not a positive number or None
E008           ``TOPIC_DEFAULT_POLICY`` is not "deny" or "allow"
W002           the channel layer's capacity is too small for fan-out
W003           ``RedisChannelLayer`` on redis-py 8 without a ``socket_timeout``
E009           a ``MIDDLEWARES`` entry does not import or is not callable
E010           ``ALLOWED_ORIGINS`` is not a list of strings or None, or
               ``ALLOW_NO_ORIGIN`` is not a bool
W004           the channel layer keeps no topic history (only the Redis
               layers and ``InMemoryChannelLayer`` do)
E011           ``HISTORY_HOSTS`` is not a non-empty list or None
E012           a ``Topic`` row has a history size or lifetime out of range
               (``manage.py check --database default``)
E013           ``TRUSTED_PROXIES`` is not a list of IP addresses or networks
E014           an ``OBSERVERS`` entry cannot be made into a model observer
               (``wsrpc_app.observers.checks``)
W005           no ``Topic`` row touches the topics a model observer publishes
               to (``manage.py check --database default``)
E015           ``PROGRESS_RATE`` is not a number of at least 10 (a second) or None
E016           a ``TOPIC_RULES`` entry does not import or is not callable
E017           ``DISCONNECT_ON`` is not a list of "logout", "deactivate",
               "token_deleted" and "password_change"
E018           ``METRICS`` is not a bool
E019           ``METRICS_TOKEN`` is not a non-empty string or None
W006           ``METRICS_TOKEN`` is set but ``prometheus_client`` is not
               installed (``wsrpc/metrics/`` answers 404)
=============  =========================================================
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError

from .conf import DEFAULTS, DISCONNECT_EVENTS, LIMITS, MIN_PROGRESS_RATE, TOPIC_POLICIES
from .core.protocol import is_reserved
from .core.registry import RegistryError, methods_of, resolve
from .metrics.recorder import available

__all__ = ["check_settings"]


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    user = getattr(settings, "WSRPC", {})
    if not isinstance(user, dict):
        return [Error("WSRPC must be a dict.", hint="See the settings reference in the README.", id="wsrpc_app.E001")]
    messages: list[CheckMessage] = [
        Warning(
            f"WSRPC has an unknown key {key!r}.",
            hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
            id="wsrpc_app.W001",
        )
        for key in user
        if key not in DEFAULTS
    ]
    messages += _check_methods(user.get("METHODS", DEFAULTS["METHODS"]))
    messages += _check_channel_layer(user.get("CHANNEL_LAYER", DEFAULTS["CHANNEL_LAYER"]))
    messages += _check_limits(user)
    messages += _check_progress_rate(user.get("PROGRESS_RATE", DEFAULTS["PROGRESS_RATE"]))
    messages += _check_middlewares(user.get("MIDDLEWARES", DEFAULTS["MIDDLEWARES"]))
    messages += _check_callables(
        "TOPIC_RULES",
        user.get("TOPIC_RULES", DEFAULTS["TOPIC_RULES"]),
        "Give dotted paths to functions: def rule(user, action, topic) -> bool | None, sync or async.",
        "wsrpc_app.E016",
    )
    messages += _check_disconnect_on(user.get("DISCONNECT_ON", DEFAULTS["DISCONNECT_ON"]))
    messages += _check_origins(user)
    messages += _check_history(user)
    messages += _check_trusted_proxies(user.get("TRUSTED_PROXIES", DEFAULTS["TRUSTED_PROXIES"]))
    messages += _check_metrics(user.get("METRICS", DEFAULTS["METRICS"]), user.get("METRICS_TOKEN"))
    policy = user.get("TOPIC_DEFAULT_POLICY", DEFAULTS["TOPIC_DEFAULT_POLICY"])
    if policy not in TOPIC_POLICIES:
        messages.append(
            Error(
                f'WSRPC[\'TOPIC_DEFAULT_POLICY\'] must be "deny" or "allow", not {policy!r}.',
                hint='It decides topics that no Topic row covers; "deny" is the safe default.',
                id="wsrpc_app.E008",
            )
        )
    return messages


def _check_methods(entries: object) -> list[CheckMessage]:
    if not isinstance(entries, list | tuple) or not all(isinstance(e, str) for e in entries):
        return [
            Error(
                "WSRPC['METHODS'] must be a list of dotted paths.",
                hint="For example ['myapp.rpc.add', 'myapp.rpc.Calculator', 'myapp.rpc'].",
                id="wsrpc_app.E002",
            )
        ]
    messages: list[CheckMessage] = []
    origins: dict[str, str] = {}
    for entry in entries:
        try:
            methods = list(methods_of(resolve(entry), entry))
        except RegistryError as exc:
            messages.append(
                Error(
                    f"WSRPC['METHODS'] entry {entry!r} cannot be registered: {exc}",
                    hint="Give the dotted path of a function, an RpcMethods subclass or a module.",
                    id="wsrpc_app.E003",
                )
            )
            continue
        for method in methods:
            messages += [
                Error(
                    f"WSRPC['METHODS'] entry {entry!r}: method {method.name!r} ({method.origin}) "
                    f"cannot validate its param {param!r}: {reason}",
                    hint="Params are validated by their type hints, with pydantic: give this one a type it takes.",
                    id="wsrpc_app.E003",
                )
                for param, reason in method.binder.hint_errors.items()
            ]
            if is_reserved(method.name):
                messages.append(
                    Error(
                        f"Method name {method.name!r} ({method.origin}) is reserved.",
                        hint="Names starting with 'rpc.' belong to the app; rename it with @rpc_method(name=...).",
                        id="wsrpc_app.E005",
                    )
                )
            elif method.name in origins:
                messages.append(
                    Error(
                        f"Method name {method.name!r} is declared by both {origins[method.name]} and {method.origin}.",
                        hint="Rename one with @rpc_method(name=...) or a namespace on its RpcMethods class.",
                        id="wsrpc_app.E004",
                    )
                )
            else:
                origins[method.name] = method.origin
    return messages


#: Layers whose channels hold a bounded number of messages, with their default capacity.
BOUNDED_LAYERS = {
    "channels_redis.core.RedisChannelLayer": 100,
    "channels.layers.InMemoryChannelLayer": 100,
}
MIN_CAPACITY = 1000


def _check_channel_layer(alias: object) -> list[CheckMessage]:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    if isinstance(alias, str) and alias in layers:
        layer = layers[alias] if isinstance(layers[alias], dict) else {}
        backend = layer.get("BACKEND")
        config = layer.get("CONFIG") or {}
        capacity = config.get("capacity", BOUNDED_LAYERS.get(str(backend), MIN_CAPACITY))
        messages = _check_redis_timeout(alias, backend, config)
        if backend in BOUNDED_LAYERS and isinstance(capacity, int) and capacity < MIN_CAPACITY:
            return [
                Warning(
                    f"Channel layer {alias!r} has a capacity of {capacity} messages per channel.",
                    hint="Each server process receives all its events on one channel, and a full channel drops "
                    f"messages silently: set CONFIG['capacity'] to at least {MIN_CAPACITY}, or use "
                    "channels_redis.pubsub.RedisPubSubChannelLayer.",
                    id="wsrpc_app.W002",
                ),
                *messages,
            ]
        return messages
    return [
        Error(
            f"No channel layer {alias!r} in CHANNEL_LAYERS.",
            hint="Configure CHANNEL_LAYERS (channels.layers.InMemoryChannelLayer for one process, "
            "channels_redis for several) or point WSRPC['CHANNEL_LAYER'] at an alias it has.",
            id="wsrpc_app.E006",
        )
    ]


def _check_history(user: Mapping[str, object]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    hosts = user.get("HISTORY_HOSTS", DEFAULTS["HISTORY_HOSTS"])
    if hosts is not None and not (isinstance(hosts, list) and hosts):
        messages.append(
            Error(
                f"WSRPC['HISTORY_HOSTS'] must be a non-empty list of Redis hosts or None, not {hosts!r}.",
                hint="Give hosts as channels_redis' CONFIG['hosts'] takes them; None keeps history on the "
                "channel layer's Redis.",
                id="wsrpc_app.E011",
            )
        )
    alias = user.get("CHANNEL_LAYER", DEFAULTS["CHANNEL_LAYER"])
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    layer = layers.get(alias) if isinstance(alias, str) else None
    backend = layer.get("BACKEND") if isinstance(layer, dict) else None
    if isinstance(backend, str) and not (
        backend.startswith("channels_redis.") or backend == "channels.layers.InMemoryChannelLayer"
    ):
        messages.append(
            Warning(
                f"Channel layer {alias!r} ({backend}) keeps no topic history.",
                hint="Topics whose row sets a history size are served without offsets or recovery. History needs "
                "channels_redis' layers (or InMemoryChannelLayer in one process).",
                id="wsrpc_app.W004",
            )
        )
    return messages


@register(Tags.database)
def check_topics(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    """``Topic`` rows whose history settings are out of range (written around the admin's validation)."""
    from django.core.exceptions import ValidationError

    from .models import Topic

    messages: list[CheckMessage] = []
    databases = kwargs.get("databases")
    if not isinstance(databases, Iterable):
        return messages  # only with manage.py check --database
    topics: list[Topic] = []
    for alias in databases:
        try:
            topics += Topic.objects.using(alias).filter(history_size__gt=0)
        except DatabaseError:
            continue  # not migrated yet: migrate reports that
    for topic in topics:
        try:
            topic.clean_fields(exclude=["name", "description"])
        except ValidationError as exc:
            messages.append(
                Error(
                    f"Topic {topic.name!r} has history settings out of range: {'; '.join(exc.messages)}",
                    hint="Correct the row in the admin.",
                    obj=topic,
                    id="wsrpc_app.E012",
                )
            )
    return messages


def _check_limits(user: Mapping[str, object]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key, integer in LIMITS.items():
        value = user.get(key, DEFAULTS[key])
        kinds = (int,) if integer else (int, float)
        if value is None or (isinstance(value, kinds) and not isinstance(value, bool) and value > 0):
            continue
        messages.append(
            Error(
                f"WSRPC[{key!r}] must be a positive {'integer' if integer else 'number'} or None, not {value!r}.",
                hint="None disables the limit.",
                id="wsrpc_app.E007",
            )
        )
    return messages


def _check_progress_rate(value: object) -> list[CheckMessage]:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value >= MIN_PROGRESS_RATE):
        return []
    return [
        Error(
            f"WSRPC['PROGRESS_RATE'] must be a number of at least {MIN_PROGRESS_RATE:g} or None, not {value!r}.",
            hint=f"Callers are promised at least {MIN_PROGRESS_RATE:g} rpc.progress reports a second; None: no bound.",
            id="wsrpc_app.E015",
        )
    ]


def _check_middlewares(entries: object) -> list[CheckMessage]:
    hint = "Give dotted paths to async functions: async def middleware(request, handler)."
    return _check_callables("MIDDLEWARES", entries, hint, "wsrpc_app.E009")


def _check_callables(key: str, entries: object, hint: str, id_: str) -> list[CheckMessage]:
    """Each entry of ``WSRPC[key]`` is a dotted path to something callable."""
    if not isinstance(entries, list | tuple) or not all(isinstance(e, str) for e in entries):
        return [Error(f"WSRPC[{key!r}] must be a list of dotted paths.", hint=hint, id=id_)]
    messages: list[CheckMessage] = []
    for entry in entries:
        try:
            found = resolve(entry)
        except RegistryError as exc:
            messages.append(Error(f"WSRPC[{key!r}] entry {entry!r}: {exc}", hint=hint, id=id_))
            continue
        if not callable(found):
            messages.append(Error(f"WSRPC[{key!r}] entry {entry!r} is not callable.", hint=hint, id=id_))
    return messages


def _check_disconnect_on(events: object) -> list[CheckMessage]:
    if isinstance(events, list | tuple) and all(event in DISCONNECT_EVENTS for event in events):
        return []
    return [
        Error(
            f"WSRPC['DISCONNECT_ON'] must be a list of {', '.join(map(repr, DISCONNECT_EVENTS))}, not {events!r}.",
            hint="Each one closes the affected connections with 4003; leave one out to keep them open.",
            id="wsrpc_app.E017",
        )
    ]


def _check_origins(user: Mapping[str, object]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    origins = user.get("ALLOWED_ORIGINS", DEFAULTS["ALLOWED_ORIGINS"])
    if origins is not None and (not isinstance(origins, list | tuple) or not all(isinstance(o, str) for o in origins)):
        messages.append(
            Error(
                "WSRPC['ALLOWED_ORIGINS'] must be a list of origins or None.",
                hint="For example ['https://example.com', '.example.org']; None uses ALLOWED_HOSTS.",
                id="wsrpc_app.E010",
            )
        )
    if not isinstance(user.get("ALLOW_NO_ORIGIN", DEFAULTS["ALLOW_NO_ORIGIN"]), bool):
        messages.append(
            Error(
                "WSRPC['ALLOW_NO_ORIGIN'] must be True or False.",
                hint="True lets non-browser clients in.",
                id="wsrpc_app.E010",
            )
        )
    return messages


def _check_trusted_proxies(entries: object) -> list[CheckMessage]:
    hint = "For example ['10.0.0.1', '172.16.0.0/12']: the proxies whose X-Forwarded-For header is believed."
    if not isinstance(entries, list | tuple) or not all(isinstance(e, str) for e in entries):
        return [
            Error("WSRPC['TRUSTED_PROXIES'] must be a list of addresses or networks.", hint=hint, id="wsrpc_app.E013")
        ]
    messages: list[CheckMessage] = []
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            messages.append(
                Error(
                    f"WSRPC['TRUSTED_PROXIES'] entry {entry!r} is not an IP address or network.",
                    hint=hint,
                    id="wsrpc_app.E013",
                )
            )
    return messages


def _check_redis_timeout(alias: str, backend: object, config: Mapping[str, object]) -> list[CheckMessage]:
    # redis-py 8 times socket reads out after 5 s, as long as RedisChannelLayer's
    # blocking pop waits: idle receives then fail (channels_redis#422).
    if backend != "channels_redis.core.RedisChannelLayer":
        return []
    try:
        from importlib.metadata import version

        major = int(version("redis").split(".")[0])
    except Exception:
        return []
    hosts = config.get("hosts") or ["redis://localhost:6379"]
    if major < 8 or (isinstance(hosts, Iterable) and all(_waits_long_enough(host) for host in hosts)):
        return []
    return [
        Warning(
            f"Channel layer {alias!r} is RedisChannelLayer on redis-py {major} without a socket_timeout above 5 s.",
            hint="Give each host as a dict, e.g. {'address': 'redis://...', 'socket_timeout': 15}: redis-py's default "
            "5 s read timeout cuts the layer's 5 s blocking read short, and idle receives fail.",
            id="wsrpc_app.W003",
        )
    ]


def _waits_long_enough(host: object) -> bool:
    if not isinstance(host, dict) or "socket_timeout" not in host:
        return False
    timeout = host["socket_timeout"]
    return timeout is None or (isinstance(timeout, int | float) and timeout > 5)


def _check_metrics(metrics: object, token: object) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not isinstance(metrics, bool):
        messages.append(
            Error(
                f"WSRPC['METRICS'] must be True or False, not {metrics!r}.",
                hint="True records Prometheus metrics when prometheus_client is installed (wsrpc[metrics]).",
                id="wsrpc_app.E018",
            )
        )
    if token is not None and (not isinstance(token, str) or not token):
        messages.append(
            Error(
                "WSRPC['METRICS_TOKEN'] must be a non-empty string or None.",
                hint="Scrapers send it as 'Authorization: Bearer <token>' to read wsrpc/metrics/.",
                id="wsrpc_app.E019",
            )
        )
    elif token is not None and not available():
        messages.append(
            Warning(
                "WSRPC['METRICS_TOKEN'] is set, but prometheus_client is not installed: wsrpc/metrics/ answers 404.",
                hint="Install the metrics extra: pip install 'wsrpc[metrics]'.",
                id="wsrpc_app.W006",
            )
        )
    return messages
