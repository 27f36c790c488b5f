"""Declaring methods and resolving names only through the registry (``wsrpc_app.core.registry``)."""

from __future__ import annotations

import functools
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.peer import Peer, canonical
from wsrpc_app import RpcMethods, rpc_method
from wsrpc_app.core.registry import Method, Registry, RegistryError, resolve


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def add_async(a: int, b: int) -> int:
    return a + b


@rpc_method(name="plus")
def add_renamed(a: int, b: int) -> int:
    return a + b


class Shapes(RpcMethods):
    namespace = "shapes"

    def area(self, width: float, height: float) -> float:
        return width * height

    @staticmethod
    def unit() -> int:
        return 1

    @rpc_method(name="perimeter")
    def outline(self, width: float, height: float) -> float:
        return 2 * (width + height)

    def _hidden(self) -> None:
        raise AssertionError("never exposed")

    @classmethod
    def build(cls) -> Shapes:
        return cls()


class Flat(RpcMethods):
    def hello(self) -> str:
        return "hello"


class MoreShapes(Shapes):
    def area(self, width: float, height: float) -> float:
        return -1.0

    def volume(self, side: float) -> float:
        return side**3


class AsyncCallable:
    async def __call__(self, a: int) -> int:
        return a * 2


class NeedsArguments(RpcMethods):
    def __init__(self, value: int) -> None:
        self.value = value

    def get(self) -> int:
        return self.value


def _names(registry: Registry) -> set[str]:
    return {method.name for method in registry}


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Write importable modules; returns a function that writes one and gives its unique name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def make(source: str, *, name: str | None = None) -> str:
        name = name or f"rpcmod_{uuid.uuid4().hex}"
        path = tmp_path.joinpath(*name.split("."))
        for parent in list(path.parents)[::-1]:
            if parent != tmp_path and tmp_path in parent.parents:
                parent.mkdir(exist_ok=True)
                (parent / "__init__.py").touch()
        path.with_suffix(".py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield make
    packages = {name.split(".")[0] for name in written}
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            del sys.modules[name]


# Decorator


def test_bare_decorator_keeps_the_function() -> None:
    def f() -> None: ...

    assert rpc_method(f) is f


def test_decorator_with_name_keeps_the_function() -> None:
    def f() -> None: ...

    assert rpc_method(name="g")(f) is f


# Functions


def test_function_is_exposed_under_its_own_name() -> None:
    assert _names(Registry.from_entries([add])) == {"add"}


def test_decorated_function_is_exposed_under_the_given_name() -> None:
    assert _names(Registry.from_entries([add_renamed])) == {"plus"}


def test_function_given_by_dotted_path() -> None:
    registry = Registry.from_entries([f"{__name__}.add"])
    method = registry.get("add")
    assert method is not None
    assert method.func is add
    assert method.origin == f"{__name__}.add"


def test_sync_and_async_functions_are_told_apart() -> None:
    registry = Registry.from_entries([add, add_async])
    assert not registry.get("add").is_async  # type: ignore[union-attr]
    assert registry.get("add_async").is_async  # type: ignore[union-attr]


def test_method_doc_is_the_docstring() -> None:
    assert Registry.from_entries([add]).get("add").doc == "Add two numbers."  # type: ignore[union-attr]


def test_async_callable_object_can_be_registered() -> None:
    method = Method.from_callable("double", AsyncCallable())
    assert method.is_async
    assert canonical(method.func, *method.binder.bind(["3"])) == ((3,), {})


def test_partial_can_be_registered_under_a_given_name() -> None:
    increment = rpc_method(name="increment")(functools.partial(add, 1))
    method = Registry.from_entries([increment]).get("increment")
    assert method is not None
    assert canonical(method.func, *method.binder.bind([2])) == ((2,), {})


def test_permission_that_is_not_one_is_a_registry_error() -> None:
    @rpc_method(permissions=[42])
    def guarded() -> None: ...

    with pytest.raises(RegistryError, match=r"permissions of '\S*guarded': 42 is neither"):
        Registry.from_entries([guarded])


def test_callable_without_a_name_is_refused() -> None:
    with pytest.raises(RegistryError, match="no name"):
        Registry.from_entries([functools.partial(add, 1)])


def test_unresolvable_annotation_is_a_registry_error() -> None:
    def f(a: Undefined) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(RegistryError, match="signature"):
        Registry.from_entries([f])


# RpcMethods classes


def test_class_exposes_public_methods_under_its_namespace() -> None:
    assert _names(Registry.from_entries([Shapes])) == {"shapes.area", "shapes.unit", "shapes.perimeter"}


def test_class_without_namespace_exposes_bare_names() -> None:
    assert _names(Registry.from_entries([Flat])) == {"hello"}


def test_class_methods_are_bound_to_one_instance() -> None:
    registry = Registry.from_entries([Shapes])
    area = registry.get("shapes.area")
    perimeter = registry.get("shapes.perimeter")
    assert area is not None and perimeter is not None
    assert area.func.__self__ is perimeter.func.__self__  # type: ignore[attr-defined]
    assert canonical(area.func, *area.binder.bind([2, 3])) == ((2.0, 3.0), {})


def test_private_and_class_methods_are_not_exposed() -> None:
    names = _names(Registry.from_entries([Shapes]))
    assert "shapes._hidden" not in names
    assert "shapes.build" not in names


def test_subclass_exposes_inherited_methods_once_with_overrides() -> None:
    registry = Registry.from_entries([MoreShapes])
    assert _names(registry) == {"shapes.area", "shapes.unit", "shapes.perimeter", "shapes.volume"}
    assert registry.get("shapes.area").func(2, 3) == -1.0  # type: ignore[union-attr]


def test_class_given_by_dotted_path() -> None:
    assert "shapes.area" in Registry.from_entries([f"{__name__}.Shapes"])


def test_class_that_cannot_be_instantiated_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="instantiated"):
        Registry.from_entries([NeedsArguments])


def test_class_that_is_not_rpc_methods_is_refused() -> None:
    with pytest.raises(RegistryError, match="not a function"):
        Registry.from_entries([AsyncCallable])


@pytest.mark.parametrize("entry", [42, None, 3.5])
def test_entry_that_is_not_a_function_class_or_module_is_refused(entry: Any) -> None:
    with pytest.raises(RegistryError):
        Registry.from_entries([entry])


# Modules


def test_module_exposes_only_its_decorated_functions(make_module: Callable[..., str]) -> None:
    name = make_module(
        """
        from wsrpc_app import rpc_method

        @rpc_method
        def shown(): return 1

        @rpc_method(name="other")
        def renamed(): return 2

        def plain(): return 3
        """
    )
    assert _names(Registry.from_entries([name])) == {"shown", "other"}


def test_module_whose_hints_parametrize_a_generic_model(make_module: Callable[..., str]) -> None:
    # Reading page()'s hints makes Page[Item], which pydantic adds to the
    # module's namespace while the registry goes through it.
    name = make_module(
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

        @rpc_method
        def page() -> Page[Item]:
            return Page[Item](items=[])

        @rpc_method
        def count(page: Page[Item]) -> int:
            return len(page.items)
        """
    )
    registry = Registry.from_entries([name])
    assert _names(registry) == {"page", "count"}
    count = registry.get("count")
    assert count is not None
    args, kwargs = count.binder.bind([{"items": [{"name": "a"}, {"name": "b"}]}])
    assert count.func(*args, **kwargs) == 2


# Dotted paths


def test_resolve_returns_a_module() -> None:
    assert resolve("functools") is functools


def test_resolve_returns_an_attribute_of_a_module() -> None:
    assert resolve("functools.partial") is functools.partial


def test_unknown_module_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="could not be imported"):
        resolve("no_such_module_anywhere.func")


def test_unknown_top_level_name_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="no such module"):
        resolve("no_such_module_anywhere")


def test_missing_attribute_is_a_registry_error_naming_it() -> None:
    with pytest.raises(RegistryError, match="has no 'nothing_here'"):
        resolve("functools.nothing_here")


def test_module_failing_to_import_is_a_registry_error_with_the_cause(make_module: Callable[..., str]) -> None:
    name = make_module("raise RuntimeError('broken at import')")
    with pytest.raises(RegistryError, match="broken at import"):
        Registry.from_entries([name])


def test_module_missing_a_dependency_names_the_dependency(make_module: Callable[..., str]) -> None:
    # The missing module's name is a prefix of the entry's: still the entry's own import that failed.
    name = make_module("import calcpkg.meth", name="calcpkg.methods")
    with pytest.raises(RegistryError, match="No module named 'calcpkg.meth'"):
        Registry.from_entries([name])


# The table


def test_reserved_name_is_refused() -> None:
    @rpc_method(name="rpc.ping")
    def ping() -> str:
        return "pong"

    with pytest.raises(RegistryError, match="reserved"):
        Registry.from_entries([ping])


def test_reserved_namespace_is_refused() -> None:
    class Rpc(RpcMethods):
        namespace = "rpc"

        def ping(self) -> str:
            return "pong"

    with pytest.raises(RegistryError, match="reserved"):
        Registry.from_entries([Rpc])


def test_reserved_name_is_accepted_when_allowed() -> None:
    method = Method.from_callable("rpc.ping", add)
    assert "rpc.ping" in Registry([method], allow_reserved=True)


def test_same_name_twice_is_refused_naming_both_origins() -> None:
    def plus(a: int) -> int:
        return a

    with pytest.raises(RegistryError, match="declared twice") as caught:
        Registry.from_entries([add_renamed, rpc_method(name="plus")(plus)])
    assert "add_renamed" in str(caught.value)


def test_merged_registry_holds_both() -> None:
    builtin = Registry([Method.from_callable("rpc.ping", add)], allow_reserved=True)
    merged = Registry.from_entries([add]).merged(builtin)
    assert _names(merged) == {"add", "rpc.ping"}
    assert len(merged) == 2


def test_unknown_name_is_not_found() -> None:
    registry = Registry.from_entries([add])
    assert registry.get("nope") is None
    assert "nope" not in registry


@pytest.mark.parametrize(
    "name", ["shapes._hidden", "shapes.__init__", "shapes.build", "_hidden", "shapes.namespace", "shapes"]
)
async def test_names_outside_the_registry_are_never_called(name: str) -> None:
    peer = Peer(Shapes)
    reply = await peer.exchange({"jsonrpc": "2.0", "method": name, "id": 1})
    assert reply["error"]["code"] == -32601
