"""Binding JSON-RPC params to a Python signature, validated by type hints.

Values for annotated parameters are validated and converted with pydantic
(a ``TypeAdapter`` per parameter, built once): it handles the whole typing
vocabulary (unions, literals, dataclasses, models, datetimes), names the
failing field, and its schemas feed the OpenRPC document.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, NoReturn

from pydantic import ConfigDict, TypeAdapter, ValidationError

from .errors import InvalidParams
from .types import Params

__all__ = ["Binder", "CONNECTION"]

#: The parameter that receives the calling connection; never filled from params.
CONNECTION = "connection"

_UNCHECKED = (inspect.Parameter.empty, Any, object)
_NAMEABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(annotation)
    except Exception:  # a class pydantic has no schema for: fall back to isinstance
        return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))


def _type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    # get_type_hints() reads functions, methods and classes only: for a
    # partial, read the function it wraps; for a callable object, its __call__.
    target: Any = func
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isroutine(target) or inspect.isclass(target)):
        target = type(target).__call__
    return typing.get_type_hints(target, include_extras=True)


class Binder:
    """Turns params into ``(args, kwargs)`` for one function."""

    def __init__(self, func: Callable[..., Any]) -> None:
        signature = inspect.signature(func)
        hints = _type_hints(func)
        self.wants_connection = CONNECTION in signature.parameters
        self.parameters = [p for p in signature.parameters.values() if p.name != CONNECTION]
        self.signature = signature.replace(parameters=self.parameters)
        self._full_signature = signature
        self.hints = {p.name: hints.get(p.name, p.annotation) for p in self.parameters}
        self.result_hint = hints.get("return", inspect.Signature.empty)
        self.adapters = {
            name: _adapter(hint) for name, hint in self.hints.items() if hint not in _UNCHECKED
        }
        self._kinds = {p.name: p.kind for p in self.parameters}
        # Most methods take only parameters that can be passed by name: they
        # are bound by hand, everything as keywords, without inspect's machinery.
        self._by_keyword = all(p.kind in _NAMEABLE for p in signature.parameters.values())
        self._positional = tuple(p.name for p in self.parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self._names = frozenset(p.name for p in self.parameters)
        self._required = tuple(
            (p.name, " keyword-only" if p.kind is inspect.Parameter.KEYWORD_ONLY else "")
            for p in self.parameters
            if p.default is inspect.Parameter.empty
        )

    def bind(self, params: Params | None, connection: Any = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Raises :class:`InvalidParams` naming what does not fit.

        When the function takes a ``connection`` parameter, ``connection`` is
        bound to it wherever it sits in the signature.
        """
        if self._by_keyword:
            return (), self._bind_by_keyword(params, connection)
        try:
            if params is None:
                bound = self.signature.bind()
            elif isinstance(params, list):
                bound = self.signature.bind(*params)
            else:
                if self.wants_connection and CONNECTION in params:
                    raise TypeError(f"'{CONNECTION}' cannot be passed as a parameter")
                bound = self.signature.bind(**params)
        except TypeError as exc:
            raise InvalidParams(data={"reason": str(exc), "signature": str(self.signature)}) from None
        if self.adapters:
            arguments = bound.arguments
            for name, adapter in self.adapters.items():
                if name in arguments:
                    arguments[name] = self._validate(name, adapter, arguments[name])
        if self.wants_connection:
            # Bind against the full signature: passing the connection by keyword
            # clashes with positional params when it is not the last parameter.
            arguments = {
                name: connection if name == CONNECTION else bound.arguments[name]
                for name in self._full_signature.parameters
                if name == CONNECTION or name in bound.arguments
            }
            bound = inspect.BoundArguments(self._full_signature, arguments)
        return bound.args, bound.kwargs

    def _bind_by_keyword(self, params: Params | None, connection: Any) -> dict[str, Any]:
        # The same rules and messages as inspect.Signature.bind.
        if params is None:
            kwargs: dict[str, Any] = {}
        elif isinstance(params, list):
            if len(params) > len(self._positional):
                self._refuse("too many positional arguments")
            kwargs = dict(zip(self._positional, params, strict=False))
        else:
            if self.wants_connection and CONNECTION in params:
                self._refuse(f"'{CONNECTION}' cannot be passed as a parameter")
            for key in params:
                if key not in self._names:
                    self._refuse(f"got an unexpected keyword argument {key!r}")
            kwargs = dict(params)
        for name, kind in self._required:
            if name not in kwargs:
                self._refuse(f"missing a required{kind} argument: {name!r}")
        for name, adapter in self.adapters.items():
            if name in kwargs:
                kwargs[name] = self._check(name, [], adapter, kwargs[name])
        if self.wants_connection:
            kwargs[CONNECTION] = connection
        return kwargs

    def _refuse(self, reason: str) -> NoReturn:
        raise InvalidParams(data={"reason": reason, "signature": str(self.signature)})

    def _validate(self, name: str, adapter: TypeAdapter[Any], value: Any) -> Any:
        kind = self._kinds[name]
        # Each item of *args and **kwargs is validated on its own, and located
        # by its index or key, so the error says which one does not fit.
        if kind is inspect.Parameter.VAR_POSITIONAL:
            return tuple(self._check(name, [index], adapter, item) for index, item in enumerate(value))
        if kind is inspect.Parameter.VAR_KEYWORD:
            return {key: self._check(name, [key], adapter, item) for key, item in value.items()}
        return self._check(name, [], adapter, value)

    def _check(self, name: str, loc: list[int | str], adapter: TypeAdapter[Any], value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            errors = [
                {
                    "param": name,
                    "loc": [name, *loc, *exc_error["loc"]],
                    "message": exc_error["msg"],
                    "type": exc_error["type"],
                }
                for exc_error in exc.errors(include_url=False, include_input=False)
            ]
            raise InvalidParams(data={"errors": errors}) from None
