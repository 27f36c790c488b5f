"""``python -m wsrpc_app.daphne``: daphne on uvloop (see :mod:`wsrpc_app.server.daphne`)."""

from __future__ import annotations

from .server.daphne import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
