"""A method whose param is a dataclass holding a class pydantic has no schema for.

A bare such class is checked with isinstance; inside a dataclass it cannot be,
on every Python version.
"""

from __future__ import annotations

import dataclasses

from wsrpc_app import rpc_method


class Opaque:
    """A class pydantic has no schema for."""


@dataclasses.dataclass
class Wrapped:
    thing: Opaque


@rpc_method(name="opaque.unwrap")
def unwrap(wrapped: Wrapped) -> None:
    """Never callable: its param cannot be validated."""
