"""Binding params to a method's signature, validated by its type hints (``wsrpc_app.core.params``)."""

from __future__ import annotations

import dataclasses
import datetime
import sys
import typing
from typing import Annotated, Any, Literal

import pydantic
import pytest
import typing_extensions

from tests.support.peer import canonical
from wsrpc_app.core.params import Binder
from wsrpc_app.errors import InvalidParams


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Box(pydantic.BaseModel):
    label: str
    size: float


class Opaque:
    """A class pydantic has no schema for."""


@dataclasses.dataclass
class HoldsOpaque:
    """Inside a dataclass, a class without a schema cannot be checked with isinstance."""

    thing: Opaque


class TypingPoint(typing.TypedDict):
    """pydantic refuses ``typing.TypedDict`` before Python 3.12."""

    x: int
    y: int


class Point3(typing_extensions.TypedDict):
    x: int
    y: int
    z: int


def _bind(func: Any, params: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """What the function receives, in inspect's canonical form (positional where it can be)."""
    return canonical(func, *Binder(func).bind(params))


def _errors(func: Any, params: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidParams) as caught:
        _bind(func, params)
    assert caught.value.code == -32602
    errors: list[dict[str, Any]] = caught.value.data["errors"]
    return errors


def test_positional_params_bind_in_order() -> None:
    def f(a: int, b: str) -> None: ...

    assert _bind(f, [1, "x"]) == ((1, "x"), {})


def test_named_params_bind_by_name() -> None:
    def f(a: int, b: str) -> None: ...

    args, kwargs = _bind(f, {"b": "x", "a": 1})
    assert (args, kwargs) == ((1, "x"), {})


def test_missing_params_bind_nothing() -> None:
    def f() -> None: ...

    assert _bind(f, None) == ((), {})


def test_missing_required_argument_is_invalid_params() -> None:
    def f(a: int, b: int) -> None: ...

    with pytest.raises(InvalidParams) as caught:
        _bind(f, [1])
    assert "b" in caught.value.data["reason"]
    assert caught.value.data["signature"].startswith("(a:")


def test_unknown_name_is_invalid_params() -> None:
    def f(a: int) -> None: ...

    with pytest.raises(InvalidParams) as caught:
        _bind(f, {"a": 1, "z": 2})
    assert "z" in caught.value.data["reason"]


def test_keyword_only_parameter_binds_as_keyword() -> None:
    def f(a: int, *, b: int = 2) -> None: ...

    assert _bind(f, {"a": 1, "b": 3}) == ((1,), {"b": 3})


def test_var_keyword_collects_unknown_names() -> None:
    def f(a: int, **rest: int) -> None: ...

    assert _bind(f, {"a": 1, "z": 2}) == ((1,), {"z": 2})


def test_bound_method_does_not_expose_self() -> None:
    class Calculator:
        def add(self, a: int, b: int) -> int:
            return a + b

    assert _bind(Calculator().add, [1, 2]) == ((1, 2), {})


def test_default_is_left_to_the_function() -> None:
    def f(a: int, b: int = 5) -> None: ...

    assert _bind(f, [1]) == ((1,), {})


def test_value_of_the_wrong_type_is_invalid_params_naming_the_parameter() -> None:
    def f(count: int) -> None: ...

    assert _errors(f, ["many"]) == [
        {
            "param": "count",
            "loc": ["count"],
            "message": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
        }
    ]


def test_validation_error_does_not_echo_the_input() -> None:
    def f(count: int) -> None: ...

    assert all("input" not in error for error in _errors(f, ["secret-value"]))


def test_nested_error_locates_the_field() -> None:
    def f(point: Point) -> None: ...

    [error] = _errors(f, [{"x": 1, "y": "far"}])
    assert error["param"] == "point"
    assert error["loc"] == ["point", "y"]


def test_iso_date_string_becomes_a_date() -> None:
    def f(day: datetime.date) -> None: ...

    assert _bind(f, ["2024-01-02"]) == ((datetime.date(2024, 1, 2),), {})


def test_object_becomes_a_dataclass() -> None:
    def f(point: Point) -> None: ...

    assert _bind(f, {"point": {"x": 1, "y": 2}}) == ((Point(1, 2),), {})


def test_object_becomes_a_pydantic_model() -> None:
    def f(box: Box) -> None: ...

    args, _ = _bind(f, [{"label": "b", "size": 2}])
    assert args == (Box(label="b", size=2.0),)


def test_integer_is_accepted_for_a_float() -> None:
    def f(size: float) -> None: ...

    args, _ = _bind(f, [2])
    assert args == (2.0,)
    assert isinstance(args[0], float)


def test_optional_parameter_accepts_null() -> None:
    def f(tags: list[str] | None = None) -> None: ...

    assert _bind(f, [None]) == ((None,), {})


def test_list_items_are_validated() -> None:
    def f(tags: list[str]) -> None: ...

    [error] = _errors(f, [["ok", 3]])
    assert error["loc"] == ["tags", 1]


def test_literal_refuses_other_values() -> None:
    def f(mode: Literal["r", "w"]) -> None: ...

    [error] = _errors(f, ["x"])
    assert error["type"] == "literal_error"


def test_annotated_constraints_are_enforced() -> None:
    def f(count: Annotated[int, pydantic.Field(gt=0)]) -> None: ...

    [error] = _errors(f, [0])
    assert error["type"] == "greater_than"


def test_var_positional_items_are_each_validated() -> None:
    def f(*numbers: int) -> None: ...

    assert _bind(f, [1, 2]) == ((1, 2), {})


def test_var_positional_error_locates_the_item() -> None:
    def f(*numbers: int) -> None: ...

    [error] = _errors(f, [1, 2, "three"])
    assert error["param"] == "numbers"
    assert error["loc"] == ["numbers", 2]


def test_var_keyword_values_are_each_validated() -> None:
    def f(**named: int) -> None: ...

    [error] = _errors(f, {"a": 1, "b": "two"})
    assert error["param"] == "named"
    assert error["loc"] == ["named", "b"]


def test_unannotated_parameter_takes_any_value() -> None:
    def f(value):  # type: ignore[no-untyped-def]
        return value

    assert _bind(f, [{"any": ["thing"]}]) == (({"any": ["thing"]},), {})


def test_any_parameter_is_not_validated() -> None:
    def f(value: Any) -> None: ...

    assert _bind(f, ["text"]) == (("text",), {})


def test_class_without_a_schema_is_checked_by_isinstance() -> None:
    def f(thing: Opaque) -> None: ...

    [error] = _errors(f, [{}])
    assert error["type"] == "is_instance_of"


def test_type_pydantic_refuses_makes_every_call_fail() -> None:
    def f(held: HoldsOpaque, other: int = 0) -> None: ...

    binder = Binder(f)
    assert list(binder.hint_errors) == ["held"]
    assert "Unable to generate pydantic-core schema" in binder.hint_errors["held"]
    with pytest.raises(TypeError, match="param 'held' has a type pydantic cannot validate"):
        binder.bind({"other": 1})


def test_typing_typed_dict() -> None:
    def f(point: TypingPoint) -> None: ...

    binder = Binder(f)
    if sys.version_info >= (3, 12):  # pydantic takes typing.TypedDict from Python 3.12 on
        assert binder.hint_errors == {}
        assert _bind(f, [{"x": "1", "y": 2}]) == (({"x": 1, "y": 2},), {})
    else:
        assert "Please use `typing_extensions.TypedDict`" in binder.hint_errors["point"]
        with pytest.raises(TypeError, match="typing_extensions.TypedDict"):
            binder.bind([{"x": 1, "y": 2}])


def test_typing_extensions_typed_dict() -> None:
    def f(point: Point3) -> None: ...

    assert _bind(f, [{"x": "1", "y": 2, "z": 3}]) == (({"x": 1, "y": 2, "z": 3},), {})
    [error] = _errors(f, [{"x": 1, "y": 2}])
    assert (error["loc"], error["type"]) == (["point", "z"], "missing")


def test_connection_parameter_is_not_part_of_the_signature() -> None:
    def f(a: int, connection: Any) -> None: ...

    binder = Binder(f)
    assert binder.wants_connection
    assert [p.name for p in binder.parameters] == ["a"]


def test_connection_cannot_be_given_by_name() -> None:
    def f(a: int, connection: Any = None) -> None: ...

    with pytest.raises(InvalidParams) as caught:
        _bind(f, {"a": 1, "connection": "forged"})
    assert "connection" in caught.value.data["reason"]


def test_connection_cannot_be_given_through_var_keyword() -> None:
    def f(connection: Any, **rest: Any) -> None: ...

    with pytest.raises(InvalidParams):
        _bind(f, {"connection": "forged"})


def test_connection_cannot_be_given_by_position() -> None:
    def f(a: int, connection: Any) -> None: ...

    with pytest.raises(InvalidParams):
        _bind(f, [1, "forged"])


def test_function_without_connection_does_not_want_one() -> None:
    def f(a: int) -> None: ...

    assert not Binder(f).wants_connection


def test_return_hint_is_kept() -> None:
    def f() -> list[int]:
        return []

    assert Binder(f).result_hint == list[int]
