"""The ``WSRPC`` setting: defaults and lazy reading.

Read when used, never at import, and reloaded when a test overrides it.
Modules that cache what they build from a setting clear it on Django's
``setting_changed`` signal themselves; this module imports nothing of the
package.
"""

from __future__ import annotations

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = [
    "DEFAULTS",
    "DISCONNECT_EVENTS",
    "LIMITS",
    "MIN_PROGRESS_RATE",
    "TOPIC_POLICIES",
    "WEBSOCKET_PATH",
    "wsrpc_settings",
]

#: Where ``wsrpc_app.routing`` serves the consumer, relative to the site root.
WEBSOCKET_PATH = "ws/rpc/"

DEFAULTS: dict[str, object] = {
    # Dotted paths to functions, RpcMethods subclasses or modules.
    "METHODS": [],
    # The alias in CHANNEL_LAYERS used for pub/sub and messages to connections.
    "CHANNEL_LAYER": "default",
    # Origins whose pages may connect (None: the hosts in ALLOWED_HOSTS), and
    # whether a handshake without an Origin (not a browser) may.
    "ALLOWED_ORIGINS": None,
    "ALLOW_NO_ORIGIN": True,
    # Dotted paths to middlewares: async def middleware(request, handler).
    "MIDDLEWARES": [],
    # Addresses or networks of the proxies whose X-Forwarded-For names an HTTP
    # caller's address (for PUBLISH_RATE over HTTP); none by default.
    "TRUSTED_PROXIES": [],
    # "deny" or "allow": whether a topic no Topic row covers may be used.
    "TOPIC_DEFAULT_POLICY": "deny",
    # Model observers: dicts of wsrpc_app.observers.observe()'s arguments, dotted paths for callables.
    "OBSERVERS": [],
    # Limits (None disables each).
    "MAX_MESSAGE_BYTES": 1024 * 1024,
    "MAX_BATCH_LENGTH": 100,
    "MAX_IN_FLIGHT": 128,  # the requests of a batch count one by one: keep it >= MAX_BATCH_LENGTH
    "MAX_SUBSCRIPTIONS": 100,
    "PUBLISH_RATE": 50.0,
    "MAX_OUTBOUND_QUEUE": 1000,
    "THREAD_POOL_SIZE": 32,
    # rpc.progress notifications of one request, per second (None: no bound; at least 10, SPEC).
    "PROGRESS_RATE": 20.0,
    # Timeouts and intervals in seconds (None disables each).
    "CALL_TIMEOUT": 30.0,
    "METHOD_TIME_LIMIT": 60.0,
    # A connection that sends nothing for this long is closed (clients send
    # rpc.ping heartbeats), and none lives longer than MAX_LIFESPAN.
    "IDLE_TIMEOUT": 90.0,
    "MAX_LIFESPAN": None,
    # How often group memberships are renewed; None: a third of the layer's group_expiry.
    "GROUP_REFRESH_INTERVAL": None,
    # Topic history: the most events one rpc.subscribe recovers (beyond it, "recovered": false),
    # and the Redis hosts that keep it (None: the channel layer's), in channels_redis' format.
    "MAX_RECOVERED": 300,
    "HISTORY_HOSTS": None,
    # Presence: a process not heard from for this long (killed without cleaning up) leaves
    # every topic's presence; each process says it lives every third of it.
    "PRESENCE_TTL": 30.0,
    # What closes a user's connections (close code 4003): "logout" (that session's), "deactivate"
    # (is_active set false: all of them), "token_deleted" (those of the DRF token), "password_change"
    # (those of sessions whose auth hash no longer matches). Remove one to keep such connections open.
    "DISCONNECT_ON": ["logout", "deactivate", "token_deleted", "password_change"],
    # Dotted paths to rule(user, action, topic) -> bool | None, sync or async, asked before the
    # Topic rows in order: the first True or False decides; None leaves it to the next, then the rows.
    "TOPIC_RULES": [],
    # Prometheus metrics, when prometheus_client is installed (wsrpc[metrics]); and the token that
    # lets a scraper read wsrpc/metrics/ (Authorization: Bearer <token>) besides staff users.
    "METRICS": True,
    "METRICS_TOKEN": None,
    # How long wsrpc/health/ waits for the channel layer before answering 503.
    "HEALTH_TIMEOUT": 2.0,
}

#: The events ``DISCONNECT_ON`` may list.
DISCONNECT_EVENTS = ("logout", "deactivate", "token_deleted", "password_change")

TOPIC_POLICIES = ("deny", "allow")

#: The fewest rpc.progress reports a second that PROGRESS_RATE may let through (SPEC).
MIN_PROGRESS_RATE = 10.0

#: Keys holding a positive number or None, and whether they must be integers.
LIMITS: dict[str, bool] = {
    "MAX_MESSAGE_BYTES": True,
    "MAX_BATCH_LENGTH": True,
    "MAX_IN_FLIGHT": True,
    "MAX_SUBSCRIPTIONS": True,
    "PUBLISH_RATE": False,
    "MAX_OUTBOUND_QUEUE": True,
    "THREAD_POOL_SIZE": True,
    "CALL_TIMEOUT": False,
    "METHOD_TIME_LIMIT": False,
    "IDLE_TIMEOUT": False,
    "MAX_LIFESPAN": False,
    "GROUP_REFRESH_INTERVAL": False,
    "MAX_RECOVERED": True,
    "PRESENCE_TTL": False,
    "HEALTH_TIMEOUT": False,
}


class WsRpcSettings:
    """Attribute access to ``settings.WSRPC`` merged over :data:`DEFAULTS`.

    The annotations say what each key holds once ``manage.py check`` passes
    (``checks.py`` reports a value of another type).
    """

    METHODS: list[str]
    CHANNEL_LAYER: str
    ALLOWED_ORIGINS: list[str] | None
    ALLOW_NO_ORIGIN: bool
    MIDDLEWARES: list[str]
    TRUSTED_PROXIES: list[str]
    TOPIC_DEFAULT_POLICY: str
    OBSERVERS: list[dict[str, object]]
    MAX_MESSAGE_BYTES: int | None
    MAX_BATCH_LENGTH: int | None
    MAX_IN_FLIGHT: int | None
    MAX_SUBSCRIPTIONS: int | None
    PUBLISH_RATE: float | None
    MAX_OUTBOUND_QUEUE: int | None
    THREAD_POOL_SIZE: int | None
    PROGRESS_RATE: float | None
    CALL_TIMEOUT: float | None
    METHOD_TIME_LIMIT: float | None
    IDLE_TIMEOUT: float | None
    MAX_LIFESPAN: float | None
    GROUP_REFRESH_INTERVAL: float | None
    MAX_RECOVERED: int | None
    HISTORY_HOSTS: list[object] | None
    PRESENCE_TTL: float | None
    DISCONNECT_ON: list[str]
    TOPIC_RULES: list[str]
    METRICS: bool
    METRICS_TOKEN: str | None
    HEALTH_TIMEOUT: float | None

    def __getattr__(self, key: str) -> object:
        if key not in DEFAULTS:
            raise AttributeError(f"no WSRPC setting {key!r}")
        value = self.user_settings.get(key, DEFAULTS[key])
        setattr(self, key, value)  # cached until reload()
        return value

    @property
    def user_settings(self) -> dict[str, object]:
        value = getattr(django_settings, "WSRPC", {})
        return value if isinstance(value, dict) else {}

    def reload(self) -> None:
        for key in list(vars(self)):
            delattr(self, key)


wsrpc_settings = WsRpcSettings()


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: object) -> None:
    if setting in ("WSRPC", "CHANNEL_LAYERS", "DEBUG"):
        wsrpc_settings.reload()
