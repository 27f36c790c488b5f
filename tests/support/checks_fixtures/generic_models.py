"""Methods whose hints parametrize a generic pydantic model.

Reading ``page()``'s hints makes ``Page[Item]``, and pydantic registers that
class in this module's namespace: the registry must not be iterating over
the namespace then. pydantic does so only when it first makes the class, so
a test imports this module afresh.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from wsrpc_app import rpc_method

T = TypeVar("T")


class Item(BaseModel):
    name: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


@rpc_method(name="generic.page")
def page(number: int = 1) -> Page[Item]:
    return Page[Item](items=[Item(name=f"item {number}")], total=1)
