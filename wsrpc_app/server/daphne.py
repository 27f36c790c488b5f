"""daphne on uvloop: ``python -m wsrpc_app.server.daphne`` takes every option of the ``daphne`` command.

daphne makes its event loop when ``daphne.server`` is first imported, with
asyncio's default loop, before it imports the application; no setting can
change it afterwards. This entry point installs uvloop's policy first, when
uvloop is installed (``pip install uvloop``, or ``uvicorn[standard]``), then
runs daphne's own command line. On uvloop daphne answers a quarter more
calls a second with 100 connections and delivers 45 % more events
(``python -m benchmarks.run calls``, ``fanout``); without uvloop it is
plain ``daphne``.

::

    python -m wsrpc_app.server.daphne -b 0.0.0.0 -p 8000 myproject.asgi:application
"""

from __future__ import annotations

import asyncio

__all__ = ["main"]


def main() -> None:
    """Install uvloop's event loop policy if uvloop is there, then run daphne's command line."""
    try:
        import uvloop
    except ImportError:
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from daphne.cli import CommandLineInterface  # imports daphne.server, which makes the loop

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
