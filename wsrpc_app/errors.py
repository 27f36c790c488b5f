"""Error codes and exceptions, at the import path the README documents (they live in :mod:`wsrpc_app.core.errors`)."""

from __future__ import annotations

from .core import errors as _errors
from .core.errors import *  # noqa: F403  every name of core.errors, as listed there

__all__ = _errors.__all__
