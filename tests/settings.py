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
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
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
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wsrpc": {"handlers": ["console"], "level": "WARNING"}},
}
