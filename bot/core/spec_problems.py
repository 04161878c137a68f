"""How the spec's problems read: each names its key path, with the phase or job an item
is (`phases[1] (staging-stagger).min_duration_h`), and says what the value must be in
the spec's words rather than pydantic's; a misspelt key gets the nearest known one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from bot.core.spec_fields import PATTERN_MEANINGS, did_you_mean

# One validator may find several problems (the spec's cross-references); it raises them
# as one error, a line each.
SEPARATOR = "\n"

_WHOLE_NUMBER = frozenset({"int_parsing", "int_type", "int_from_float", "int_parsing_size"})
_NUMBER = frozenset({"float_parsing", "float_type"})
_BOOLEAN = frozenset({"bool_parsing", "bool_type"})
_TABLE = frozenset({"dict_type", "model_type", "model_attributes_type"})
_BOUNDS = {"greater_than": ("gt", "more than"), "greater_than_equal": ("ge", "at least"),
           "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}  # fmt: skip


def describe(
    errors: Sequence[ErrorDetails], data: Mapping[str, object], root: type[BaseModel]
) -> list[str]:
    """One line per problem, `path: what is wrong`; a problem of the whole spec has no path."""
    problems = []
    for error in errors:
        path = key_path(error["loc"], data)
        for message in _message(error, root).split(SEPARATOR):
            problems.append(f"{path}: {message}" if path else message)
    return problems


def key_path(loc: Sequence[int | str], data: object) -> str:
    """`environments.prod.hosts`, `jobs[2] (SCHEDULED_NOTIFICATIONS).offset_s`: an item of
    a list of tables is named by its `key` or else its `name`, as the file writes it."""
    path, node = "", data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = _label(node)
            path += f"[{part}]" + (f" ({label})" if label else "")
        else:
            node = node.get(part) if isinstance(node, dict) else None
            path += f".{part}" if path else part
    return path


def item_path(section: str, index: int, label: str) -> str:
    return f"{section}[{index}] ({label})"


def _label(item: object) -> str | None:
    if isinstance(item, dict):
        for key in ("key", "name"):  # a job's key is what commands call it
            value = item.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _message(error: ErrorDetails, root: type[BaseModel]) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    got = _got(error.get("input"))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"], root)
    if kind == "string_pattern_mismatch" and str(context.get("pattern")) in PATTERN_MEANINGS:
        return f"must be {PATTERN_MEANINGS[str(context['pattern'])]}{got}"
    if kind in _WHOLE_NUMBER:
        return f"must be a whole number{got}"
    if kind in _NUMBER:
        return f"must be a number{got}"
    if kind in _BOOLEAN:
        return f"must be true or false{got}"
    if kind == "string_type":
        return f"must be text in quotes{got}"
    if kind == "list_type":
        return f"must be a list, like [...]{got}"
    if kind in _TABLE:
        return f"must be a table, like {_header(error['loc'])}{got}"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        return f"must be {words} {_shown(context.get(bound))}{got}"
    if kind == "literal_error":
        return f"must be {context.get('expected')}{got}"
    if kind == "too_short":
        return _count("at least", context.get("min_length"), context.get("field_type"))
    if kind == "too_long":
        return _count("at most", context.get("max_length"), context.get("field_type"))
    if kind == "string_too_short":
        least = context.get("min_length")
        return "must not be empty" if least == 1 else f"must be at least {least} characters long"
    if kind == "string_too_long":
        return f"must be at most {context.get('max_length')} characters long"
    return error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _got(value: object) -> str:
    if isinstance(value, str):
        return f" (got {value[:60]!r}{'...' if len(value) > 60 else ''})"
    if isinstance(value, bool | int | float):
        return f" (got {_shown(value)})"
    return ""


def _shown(value: object) -> str:
    """A value as a person writes it: `true`, `600` (a bound on a float field is 600.0)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _count(bound: str, length: object, field_type: object) -> str:
    if field_type == "Dictionary":
        return f"must have {bound} {length} entr{'y' if length == 1 else 'ies'}"
    return f"must list {bound} {length} item{'' if length == 1 else 's'}"


def _header(loc: Sequence[int | str]) -> str:
    """The TOML header of the table at `loc`: `[validation]`, `[[phases]]`."""
    dotted = ".".join(str(part) for part in loc if not isinstance(part, int))
    return f"[[{dotted}]]" if loc and isinstance(loc[-1], int) else f"[{dotted}]"


def _unknown_key(loc: Sequence[int | str], root: type[BaseModel]) -> str:
    model = _model_at(root, loc[:-1])
    if model is None:
        return "unknown key (check its spelling)"
    known = list(model.model_fields)
    hint = did_you_mean(str(loc[-1]), known)
    return f"unknown key{hint}" if hint else f"unknown key (known here: {', '.join(known)})"


def _model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The section model the key path `loc` leads to, if it is one."""
    node: Any = root
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            node = field.annotation if field is not None else None
        else:  # an entry of a table of sections, an item of a list of them
            arguments = get_args(node)
            node = arguments[-1] if get_origin(node) in (dict, list) and arguments else None
        node = _without_none(node)
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        others = [argument for argument in get_args(annotation) if argument is not NoneType]
        return others[0] if len(others) == 1 else None
    return annotation
