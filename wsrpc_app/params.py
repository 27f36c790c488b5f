"""Binding JSON-RPC params to a Python signature, validated by type hints.

Values for annotated parameters are validated and converted with pydantic
(a ``TypeAdapter`` per parameter, built once): it handles the whole typing
vocabulary (unions, literals, dataclasses, models, datetimes), names the
failing field, and its schemas feed the OpenRPC document.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from .errors import InvalidParams
from .types import Params

__all__ = ["Binder", "CONNECTION"]

#: The parameter that receives the calling connection; never filled from params.
CONNECTION = "connection"

_UNCHECKED = (inspect.Parameter.empty, Any, object)


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(annotation)
    except Exception:  # a class pydantic has no schema for: fall back to isinstance
        return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))


class Binder:
    """Turns params into ``(args, kwargs)`` for one function."""

    def __init__(self, func: Callable[..., Any]) -> None:
        signature = inspect.signature(func)
        hints = typing.get_type_hints(func, include_extras=True)
        self.wants_connection = CONNECTION in signature.parameters
        self.parameters = [p for p in signature.parameters.values() if p.name != CONNECTION]
        self.signature = signature.replace(parameters=self.parameters)
        self.hints = {p.name: hints.get(p.name, p.annotation) for p in self.parameters}
        self.result_hint = hints.get("return", inspect.Signature.empty)
        self.adapters = {
            name: _adapter(hint) for name, hint in self.hints.items() if hint not in _UNCHECKED
        }
        self._kinds = {p.name: p.kind for p in self.parameters}

    def bind(self, params: Params | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Raises :class:`InvalidParams` naming what does not fit."""
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
        return bound.args, bound.kwargs

    def _validate(self, name: str, adapter: TypeAdapter[Any], value: Any) -> Any:
        kind = self._kinds[name]
        try:
            if kind is inspect.Parameter.VAR_POSITIONAL:
                return tuple(adapter.validate_python(item) for item in value)
            if kind is inspect.Parameter.VAR_KEYWORD:
                return {key: adapter.validate_python(item) for key, item in value.items()}
            return adapter.validate_python(value)
        except ValidationError as exc:
            errors = [
                {
                    "param": name,
                    "loc": [name, *exc_error["loc"]],
                    "message": exc_error["msg"],
                    "type": exc_error["type"],
                }
                for exc_error in exc.errors(include_url=False, include_input=False)
            ]
            raise InvalidParams(data={"errors": errors}) from None
