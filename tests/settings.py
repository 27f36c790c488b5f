"""Settings for the test suite and for the servers the end-to-end tests start."""

from __future__ import annotations

import os

from demo_project.settings import *  # noqa: F403

DEBUG = False
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("WSRPC_TEST_DB", ":memory:"),
        "TEST": {"NAME": os.environ.get("WSRPC_TEST_DB") or None},
    }
}
ROOT_URLCONF = "tests.urls"
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
        "tests.methods",
        "tests.methods.Shapes",
        "demo_project.methods",
        "demo_project.methods.Calculator",
    ],
    "CALL_TIMEOUT": float(os.environ.get("WSRPC_TEST_CALL_TIMEOUT", "2.0")),
    "MAX_IN_FLIGHT": 16,
    "MAX_MESSAGE_BYTES": 64 * 1024,
    "MAX_BATCH_LENGTH": 50,
    "METHOD_TIME_LIMIT": 5.0,
    "MAX_SUBSCRIPTIONS": 20,
    "PUBLISH_RATE": float(os.environ.get("WSRPC_TEST_PUBLISH_RATE", "2000")),
    "MAX_OUTBOUND_QUEUE": int(os.environ.get("WSRPC_TEST_OUTBOUND_QUEUE", "1000")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wsrpc": {"handlers": ["console"], "level": "WARNING"}},
}
