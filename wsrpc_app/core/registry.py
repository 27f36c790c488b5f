"""The explicit table of callable methods, and the ways to declare them.

A client-supplied method name is resolved only through a :class:`Registry`,
never by attribute lookup on an object (channels issue 1430 shows why).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, TypeVar, overload

from .params import Binder
from .permissions import HasPerms, IsAuthenticated, IsStaff, Permission, as_permission
from .protocol import is_reserved

__all__ = ["rpc_method", "RpcMethods", "Method", "Registry", "RegistryError", "resolve"]

F = TypeVar("F", bound=Callable[..., object])

_MARK = "__wsrpc_method__"


@dataclasses.dataclass(frozen=True, slots=True)
class _Declaration:
    """What ``@rpc_method`` records on a function."""

    name: str
    #: Permission classes or instances, as given.
    permissions: tuple[object, ...]


@overload
def rpc_method(func: F, /) -> F: ...
@overload
def rpc_method(
    *,
    name: str | None = None,
    permissions: Iterable[object] = (),
    login_required: bool = False,
    staff_required: bool = False,
    perms: Iterable[str] = (),
) -> Callable[[F], F]: ...


def rpc_method(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    permissions: Iterable[object] = (),
    login_required: bool = False,
    staff_required: bool = False,
    perms: Iterable[str] = (),
) -> F | Callable[[F], F]:
    """Mark a function as an RPC method, optionally under another name and with permissions.

    Usable bare (``@rpc_method``) or with arguments (``@rpc_method(name="x")``).
    ``permissions`` are permission classes or instances (see
    :mod:`wsrpc_app.core.permissions`), all of which must allow the call;
    ``login_required``, ``staff_required`` and ``perms`` (Django permission
    strings) are shortcuts for the common ones.
    """
    checks = list(permissions)
    if login_required:
        checks.insert(0, IsAuthenticated)
    if staff_required:
        checks.append(IsStaff)
    if perms:
        checks.append(HasPerms(*perms))

    def mark(f: F) -> F:
        setattr(f, _MARK, _Declaration(name or f.__name__, tuple(checks)))
        return f

    return mark(func) if func is not None else mark


class RpcMethods:
    """Group methods on a class: each public method is exposed.

    Set ``namespace`` to expose them as ``<namespace>.<method>``. The class is
    instantiated once, without arguments, when the registry is built.
    """

    namespace: ClassVar[str | None] = None
    #: Permissions every method of the class requires (before its own).
    permission_classes: ClassVar[Iterable[object]] = ()


class RegistryError(ValueError):
    """A method entry cannot be registered."""


@dataclasses.dataclass(slots=True, eq=False)
class Method:
    """One callable method and what is known of its signature."""

    name: str
    #: Returns the result, or an awaitable of it when ``is_async``.
    func: Callable[..., Any]
    binder: Binder
    is_async: bool
    #: Where it came from (a dotted path), for messages.
    origin: str = ""
    #: Permission instances, all of which must allow a call.
    permissions: tuple[Permission, ...] = ()

    @classmethod
    def from_callable(
        cls, name: str, func: Callable[..., object], origin: str = "", permissions: Iterable[object] = ()
    ) -> Method:
        if not callable(func):
            raise RegistryError(f"{origin or name!r} is not callable")
        try:
            binder = Binder(func)
        except (NameError, TypeError, ValueError) as exc:
            raise RegistryError(f"cannot read the signature of {origin or name!r}: {exc}") from exc
        target = inspect.unwrap(func)
        is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
            getattr(target, "__call__", None)  # noqa: B004 - async callable objects
        )
        declaration = _declaration(func)
        declared = declaration.permissions if declaration else ()
        try:
            checks = tuple(as_permission(p) for p in (*permissions, *declared))
        except TypeError as exc:
            raise RegistryError(f"cannot make the permissions of {origin or name!r}: {exc}") from exc
        return cls(name, func, binder, is_async, origin, checks)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.func) or ""


def resolve(path: str) -> Any:
    """Import a dotted path: a module, or an attribute of one."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        # Only when the module missing is the path itself or one of its parents
        # may the path name an attribute; else an import inside it failed.
        if exc.name is None or not (path == exc.name or path.startswith(exc.name + ".")):
            raise RegistryError(f"{path!r} could not be imported: {exc}") from exc
    except Exception as exc:
        raise RegistryError(f"{path!r} could not be imported: {exc}") from exc
    module_path, _, attribute = path.rpartition(".")
    if not module_path:
        raise RegistryError(f"{path!r} could not be imported: no such module")
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:
        raise RegistryError(f"{path!r} could not be imported: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise RegistryError(f"{path!r} could not be imported: {module_path!r} has no {attribute!r}") from None


def _declaration(func: object) -> _Declaration | None:
    mark = getattr(func, _MARK, None)
    return mark if isinstance(mark, _Declaration) else None


def _declared_name(func: object) -> str | None:
    declaration = _declaration(func)
    return declaration.name if declaration else None


def methods_of(entry: object, origin: str = "") -> Iterator[Method]:
    """The methods one settings entry declares: a function, an ``RpcMethods`` subclass or a module."""
    if isinstance(entry, types.ModuleType):
        # A copy: reading a method's hints can add to the module's namespace
        # (pydantic registers a generic model's parametrizations, Page[Item],
        # in the module that names them).
        for attribute, value in list(vars(entry).items()):
            name = _declared_name(value)
            if name and callable(value):
                yield Method.from_callable(name, value, f"{entry.__name__}.{attribute}")
    elif isinstance(entry, type) and issubclass(entry, RpcMethods):
        yield from _methods_of_class(entry, origin)
    elif callable(entry) and not isinstance(entry, type):
        name = _declared_name(entry) or getattr(entry, "__name__", None)
        if not name:
            raise RegistryError(f"{origin!r} has no name; decorate it with @rpc_method(name=...)")
        yield Method.from_callable(name, entry, origin)
    else:
        raise RegistryError(f"{origin or entry!r} is not a function, an RpcMethods subclass or a module")


def _methods_of_class(cls: type[RpcMethods], origin: str) -> Iterator[Method]:
    try:
        instance = cls()
    except Exception as exc:
        raise RegistryError(f"{origin or cls.__name__} could not be instantiated: {exc}") from exc
    prefix = f"{cls.namespace}." if cls.namespace else ""
    # Public functions of the class and its bases (not of RpcMethods itself),
    # each once even when a subclass overrides it.
    public = {
        attribute: None
        for klass in reversed(cls.__mro__[: cls.__mro__.index(RpcMethods)])
        for attribute, value in vars(klass).items()
        if not attribute.startswith("_") and isinstance(value, types.FunctionType | staticmethod)
    }
    for attribute in public:
        bound = getattr(instance, attribute)
        name = prefix + (_declared_name(bound) or attribute)
        origin = f"{cls.__module__}.{cls.__qualname__}.{attribute}"
        yield Method.from_callable(name, bound, origin, permissions=cls.permission_classes)


class Registry:
    """Method names mapped to :class:`Method` objects."""

    def __init__(self, methods: Iterable[Method] = (), *, allow_reserved: bool = False) -> None:
        self._methods: dict[str, Method] = {}
        for method in methods:
            self.add(method, allow_reserved=allow_reserved)

    @classmethod
    def from_entries(cls, entries: Iterable[object]) -> Registry:
        """Build from settings entries: dotted paths, or the objects themselves."""
        registry = cls()
        for entry in entries:
            origin = entry if isinstance(entry, str) else getattr(entry, "__qualname__", repr(entry))
            target = resolve(entry) if isinstance(entry, str) else entry
            for method in methods_of(target, origin):
                registry.add(method)
        return registry

    def add(self, method: Method, *, allow_reserved: bool = False) -> None:
        if is_reserved(method.name) and not allow_reserved:
            raise RegistryError(f"{method.name!r} ({method.origin}): names starting with 'rpc.' are reserved")
        if method.name in self._methods:
            raise RegistryError(
                f"{method.name!r} is declared twice: by {self._methods[method.name].origin} and {method.origin}"
            )
        self._methods[method.name] = method

    def merged(self, other: Registry) -> Registry:
        """A registry holding this one's methods and the other's (which may be reserved)."""
        merged = Registry()
        merged._methods = {**self._methods, **other._methods}
        return merged

    def get(self, name: str) -> Method | None:
        return self._methods.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[Method]:
        return iter(self._methods.values())

    def __len__(self) -> int:
        return len(self._methods)
