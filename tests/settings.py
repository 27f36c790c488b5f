"""Settings for the test suite and for the servers the end-to-end tests start."""

from __future__ import annotations

import os

from demo_project.settings import *  # noqa: F403

# WSRPC_TEST_DEBUG=1 serves with DEBUG on (error pages must stay JSON under wsrpc/ either way).
DEBUG = os.environ.get("WSRPC_TEST_DEBUG") == "1"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("WSRPC_TEST_DB", ":memory:"),
        "TEST": {"NAME": os.environ.get("WSRPC_TEST_DB") or None},
    }
}
ROOT_URLCONF = "tests.urls"
# Articles and tags that model observers watch (tests/observers).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.observed"]  # noqa: F405
# WSRPC_TEST_LAYER picks the layer a test server runs on: "memory" (the
# default), "redis" (RedisChannelLayer) or "redis_pubsub" (RedisPubSubChannelLayer),
# on REDIS_URL, under the key prefix WSRPC_TEST_LAYER_PREFIX so runs stay apart.
_LAYER = os.environ.get("WSRPC_TEST_LAYER", "memory")
_REDIS = {
    "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
    "prefix": os.environ.get("WSRPC_TEST_LAYER_PREFIX", "wsrpc-test"),
}
if _LAYER == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                **_REDIS,
                # redis-py 8 reads with a 5 s socket timeout by default, which
                # cuts the layer's 5 s BZPOPMIN short: receive() raises
                # TimeoutError whenever a channel is idle (channels_redis#422).
                "hosts": [{"address": _REDIS["hosts"][0], "socket_timeout": 15}],
                "capacity": 100_000,
                "group_expiry": int(os.environ.get("WSRPC_TEST_GROUP_EXPIRY", "86400")),
            },
        }
    }
elif _LAYER == "redis_pubsub":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": _REDIS}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 100_000}}}
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

WSRPC = {
    "METHODS": [
        "tests.support.methods",
        "tests.support.methods.Shapes",
        "demo_project.methods",
        "demo_project.methods.Calculator",
        "tests.support.secured_methods",
        "tests.support.secured_methods.StaffTools",
        "tests.support.long_calls",
    ],
    "CALL_TIMEOUT": float(os.environ.get("WSRPC_TEST_CALL_TIMEOUT", "2.0")),
    "PRESENCE_TTL": float(os.environ.get("WSRPC_TEST_PRESENCE_TTL", "30")),
    "TOPIC_RULES": [path for path in os.environ.get("WSRPC_TEST_TOPIC_RULES", "").split(",") if path],
    "MAX_IN_FLIGHT": 16,
    "MAX_MESSAGE_BYTES": int(os.environ.get("WSRPC_TEST_MAX_MESSAGE_BYTES", str(64 * 1024))),
    "MAX_BATCH_LENGTH": 50,
    "METHOD_TIME_LIMIT": 5.0,
    "MAX_SUBSCRIPTIONS": 20,
    "PUBLISH_RATE": float(os.environ.get("WSRPC_TEST_PUBLISH_RATE", "2000")),
    "MAX_OUTBOUND_QUEUE": int(os.environ.get("WSRPC_TEST_OUTBOUND_QUEUE", "1000")),
    # The knobs below, for the servers of the security tests: "0" means None (no limit).
    "IDLE_TIMEOUT": float(os.environ.get("WSRPC_TEST_IDLE_TIMEOUT", "90")) or None,
    "MAX_LIFESPAN": float(os.environ.get("WSRPC_TEST_MAX_LIFESPAN", "0")) or None,
    "MIDDLEWARES": [path for path in os.environ.get("WSRPC_TEST_MIDDLEWARES", "").split(",") if path],
    "ALLOW_NO_ORIGIN": os.environ.get("WSRPC_TEST_ALLOW_NO_ORIGIN", "1") == "1",
    # The scrapers' token of wsrpc/metrics/ (tests/metrics); unset means None.
    "METRICS_TOKEN": os.environ.get("WSRPC_TEST_METRICS_TOKEN") or None,
    # Comma-separated; unset means None (the hosts of ALLOWED_HOSTS).
    "ALLOWED_ORIGINS": (
        os.environ["WSRPC_TEST_ALLOWED_ORIGINS"].split(",") if "WSRPC_TEST_ALLOWED_ORIGINS" in os.environ else None
    ),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wsrpc": {"handlers": ["console"], "level": "WARNING"}},
}
