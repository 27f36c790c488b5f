"""Attributes that cannot be registered as methods."""

from __future__ import annotations

from wsrpc_app import RpcMethods

CONSTANT = 42


class NotMethods:
    """A plain class: neither a function nor an RpcMethods subclass."""

    def area(self) -> int:
        return 1


class NeedsArguments(RpcMethods):
    """Registering instantiates the class without arguments, which this one refuses."""

    def __init__(self, required: int) -> None:
        self.required = required

    def value(self) -> int:
        return self.required


def unresolvable_hint(value: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
    """Its annotation names a type that does not exist."""
