"""Decode plain dicts (from YAML or JSON) into frozen dataclasses, and back.

Every problem is a :class:`SpecError` that names the field path (``stages[2].kernel``), so a
typo in a data file fails at load time with the key and value in the message, never deep
inside a builder. Unknown keys are errors, not silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

from scalesearch.errors import SpecError, shown

T = TypeVar("T")

#: The key that selects the dataclass of a union member (``block: mbconv``).
TAG_KEY = "block"
#: Field metadata: :func:`encode` leaves the field out while it holds its default (fields added
#: after files were written, so that those files, and digests of them, stay the same).
OMIT_DEFAULT = {"omit_default": True}


def check(ok: bool, field: str, value: Any, requirement: str) -> None:
    """The one validation step of every data class: unless ``ok``, a :class:`SpecError` naming
    ``field``, the ``requirement`` and (cut short) the ``value``."""
    if not ok:
        raise SpecError(field, f"{requirement}, got {shown(value)}")


def _decode_scalar(tp: type, value: Any) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError("", f"must be true or false, got {shown(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError("", f"must be an integer, got {shown(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError("", f"must be a number, got {shown(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise SpecError("", f"must be a string, got {shown(value)}")
        return value
    raise TypeError(f"unsupported field type {tp!r}")  # a programming error, not user input


def _union_members(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(tp)
    return ()


def decode_value(tp: Any, value: Any) -> Any:
    """Decode ``value`` as type ``tp``; raises :class:`SpecError` with a relative field path."""
    members = _union_members(tp)
    if members:
        if value is None and type(None) in members:
            return None
        options = [m for m in members if m is not type(None)]
        if len(options) == 1:
            return decode_value(options[0], value)
        return _decode_tagged(options, value)
    if value is None:
        raise SpecError("", "must not be null")
    if dataclasses.is_dataclass(tp):
        return decode(tp, value)
    if typing.get_origin(tp) is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise SpecError("", f"must be a list, got {shown(value)}")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(decode_value(item_tp, item))
            except SpecError as err:
                raise err.within(f"[{i}]") from None
        return tuple(items)
    return _decode_scalar(tp, value)


def _decode_tagged(options: list[Any], value: Any) -> Any:
    kinds = {opt.kind: opt for opt in options}
    if not isinstance(value, dict):
        raise SpecError("", f"must be a mapping with a '{TAG_KEY}' key, got {shown(value)}")
    if TAG_KEY not in value:
        raise SpecError("", f"missing required key '{TAG_KEY}' (one of: {', '.join(kinds)})")
    kind = value[TAG_KEY]
    if not isinstance(kind, str) or kind not in kinds:
        raise SpecError(TAG_KEY, f"unknown block kind {shown(kind)} (known: {', '.join(kinds)})")
    body = {k: v for k, v in value.items() if k != TAG_KEY}
    return decode(kinds[kind], body)


def decode(cls: type[T], data: Any) -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types, then its own validation."""
    if not isinstance(data, dict):
        raise SpecError("", f"must be a mapping, got {shown(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        name = key if isinstance(key, str) and key.isidentifier() else shown(key)
        raise SpecError(name, f"unknown key (known keys: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise SpecError(name, "missing required key")
            continue
        try:
            kwargs[name] = decode_value(hints[name], data[name])
        except SpecError as err:
            raise err.within(name) from None
    return cls(**kwargs)


def encode(obj: Any) -> Any:
    """The inverse of :func:`decode`: plain dicts, lists and scalars, defaults included (except
    those of :data:`OMIT_DEFAULT` fields)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        kind = getattr(type(obj), "kind", None)
        if isinstance(kind, str) and "kind" not in {f.name for f in dataclasses.fields(obj)}:  # a tagged block
            out[TAG_KEY] = kind
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if not (f.metadata.get("omit_default") and value == f.default):
                out[f.name] = encode(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [encode(x) for x in obj]
    return obj
