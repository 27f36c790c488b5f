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
from typing import Any, NoReturn, TypeAlias

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from .errors import InvalidParams
from .types import JSON, Caller, Params

__all__ = ["Binder", "CONNECTION", "PROGRESS", "FILLED"]

#: The parameter that receives the calling connection; never filled from params.
CONNECTION = "connection"
#: The parameter that receives the request's progress reporter; never filled from params.
PROGRESS = "progress"
#: The parameters wsrpc fills.
FILLED = (CONNECTION, PROGRESS)

#: A type expression, as ``get_type_hints()`` gives it (a ``TypeForm``, once mypy reads those).
Hint: TypeAlias = Any

#: Hints that let any value through, so none is validated.
_UNCHECKED: tuple[Hint, ...] = (inspect.Parameter.empty, Any, object)
_NAMEABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _adapter(annotation: Hint) -> TypeAdapter[object]:
    """Raises :class:`PydanticUserError` when pydantic refuses the type."""
    try:
        return TypeAdapter(annotation)
    except PydanticSchemaGenerationError as exc:
        # A class pydantic has no schema for: check it with isinstance. Not
        # inside a model, dataclass or typed dict, which take no config: the
        # first error says what to do there.
        try:
            return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
        except PydanticUserError:
            raise exc from None


def _type_hints(func: Callable[..., object]) -> dict[str, Hint]:
    # get_type_hints() reads functions, methods and classes only: for a
    # partial, read the function it wraps; for a callable object, its __call__.
    target: object = func
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isroutine(target) or inspect.isclass(target)):
        target = type(target).__call__
    return typing.get_type_hints(target, include_extras=True)


class Binder:
    """Turns params into ``(args, kwargs)`` for one function."""

    def __init__(self, func: Callable[..., object]) -> None:
        signature = inspect.signature(func)
        hints = _type_hints(func)
        self.wants_connection = CONNECTION in signature.parameters
        self.wants_progress = PROGRESS in signature.parameters
        #: The parameters wsrpc fills that this function takes.
        self.filled = tuple(name for name in FILLED if name in signature.parameters)
        self.parameters = [p for p in signature.parameters.values() if p.name not in FILLED]
        self.signature = signature.replace(parameters=self.parameters)
        self._full_signature = signature
        self.hints: dict[str, Hint] = {p.name: hints.get(p.name, p.annotation) for p in self.parameters}
        self.result_hint: Hint = hints.get("return", inspect.Signature.empty)
        self.adapters: dict[str, TypeAdapter[object]] = {}
        #: Params whose type pydantic refuses, with its reason: the method
        #: cannot be called (a system check reports it), the others still can.
        self.hint_errors: dict[str, str] = {}
        for name, hint in self.hints.items():
            if hint in _UNCHECKED:
                continue
            try:
                self.adapters[name] = _adapter(hint)
            except PydanticUserError as exc:
                self.hint_errors[name] = exc.message
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

    def bind(
        self, params: Params | None, connection: Caller | None = None, progress: object = None
    ) -> tuple[tuple[object, ...], dict[str, object]]:
        """Raises :class:`InvalidParams` naming what does not fit.

        When the function takes a ``connection`` (or ``progress``) parameter,
        ``connection`` (``progress``) is bound to it wherever it sits in the
        signature. Raises :class:`TypeError`
        when a param's type is one pydantic refuses (see :attr:`hint_errors`).
        """
        if self.hint_errors:
            name, reason = next(iter(self.hint_errors.items()))
            raise TypeError(f"param {name!r} has a type pydantic cannot validate: {reason}")
        if self._by_keyword:
            return (), self._bind_by_keyword(params, connection, progress)
        try:
            if params is None:
                bound = self.signature.bind()
            elif isinstance(params, list):
                bound = self.signature.bind(*params)
            else:
                for name in self.filled:
                    if name in params:
                        raise TypeError(f"'{name}' cannot be passed as a parameter")
                bound = self.signature.bind(**params)
        except TypeError as exc:
            raise InvalidParams(data={"reason": str(exc), "signature": str(self.signature)}) from None
        if self.adapters:
            arguments = bound.arguments
            for name, adapter in self.adapters.items():
                if name in arguments:
                    arguments[name] = self._validate(name, adapter, arguments[name])
        if self.filled:
            # Bind against the full signature: passing the connection by keyword
            # clashes with positional params when it is not the last parameter.
            filled = {CONNECTION: connection, PROGRESS: progress}
            arguments = {
                name: filled[name] if name in filled else bound.arguments[name]
                for name in self._full_signature.parameters
                if name in filled or name in bound.arguments
            }
            bound = inspect.BoundArguments(self._full_signature, arguments)
        return bound.args, bound.kwargs

    def _bind_by_keyword(self, params: Params | None, connection: Caller | None, progress: object) -> dict[str, object]:
        # The same rules and messages as inspect.Signature.bind.
        if params is None:
            kwargs: dict[str, object] = {}
        elif isinstance(params, list):
            if len(params) > len(self._positional):
                self._refuse("too many positional arguments")
            kwargs = dict(zip(self._positional, params, strict=False))
        else:
            for name in self.filled:
                if name in params:
                    self._refuse(f"'{name}' cannot be passed as a parameter")
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
        if self.wants_progress:
            kwargs[PROGRESS] = progress
        return kwargs

    def _refuse(self, reason: str) -> NoReturn:
        raise InvalidParams(data={"reason": reason, "signature": str(self.signature)})

    def _validate(self, name: str, adapter: TypeAdapter[object], value: JSON) -> object:
        kind = self._kinds[name]
        # Each item of *args and **kwargs (a tuple and a dict of JSON values)
        # is validated on its own, and located by its index or key, so the
        # error says which one does not fit.
        if kind is inspect.Parameter.VAR_POSITIONAL:
            return tuple(self._check(name, [index], adapter, item) for index, item in enumerate(value))
        if kind is inspect.Parameter.VAR_KEYWORD:
            return {key: self._check(name, [key], adapter, item) for key, item in value.items()}
        return self._check(name, [], adapter, value)

    def _check(self, name: str, loc: list[int | str], adapter: TypeAdapter[object], value: JSON) -> object:
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
