"""A module whose import fails: it imports a package that does not exist."""

from __future__ import annotations

import wsrpc_no_such_package  # type: ignore[import-not-found]  # noqa: F401
