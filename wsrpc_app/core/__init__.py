"""The JSON-RPC engine and what it needs, with no Django and no I/O of its own."""

__all__: list[str] = []
