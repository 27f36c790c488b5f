"""Django settings of the bare Channels peer: no database, no middleware, a Redis channel layer.

``BENCH_LAYER`` picks the layer (``redis_pubsub``: RedisPubSubChannelLayer,
``redis``: RedisChannelLayer, ``memory``: InMemoryChannelLayer), on ``REDIS_URL`` under the key prefix
``BENCH_LAYER_PREFIX``.
"""

from __future__ import annotations

import os

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES: dict[str, dict[str, str]] = {}
ASGI_APPLICATION = "benchmarks.peers.channels_bare.application"
USE_TZ = True

_LAYER = os.environ.get("BENCH_LAYER", "redis_pubsub")
_REDIS = {
    "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
    "prefix": os.environ.get("BENCH_LAYER_PREFIX", "bench"),
}
if _LAYER == "redis":
    # Large enough that a burst never fills a connection's channel (a full one drops silently).
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {**_REDIS, "capacity": 100_000}}
    }
elif _LAYER == "redis_pubsub":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": _REDIS}}
elif _LAYER == "memory":
    # For the calls workloads, which never touch the layer.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    raise ValueError(f"BENCH_LAYER must be redis, redis_pubsub or memory, not {_LAYER!r}")
