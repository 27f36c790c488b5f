"""The ASGI application the end-to-end tests serve with daphne and uvicorn."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from demo_project.asgi import application  # noqa: E402

__all__ = ["application"]
