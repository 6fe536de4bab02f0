"""The event-type registry: each module declares its event types, versions and personal fields.

    from callseal.ledger.registry import Personal, register_event

    @register_event("call.started", version=1)
    @dataclass(frozen=True, slots=True)
    class CallStarted:
        twilio_call_sid: str
        from_number: Personal[str]      # sealed per data subject in the stored payload
        to_number: str

Field types allowed: str, int, float, bool, ``X | None`` of those, ``list[...]`` of those,
and ``dict[str, Any]`` (a JSON object). Personal fields may be any of these; their JSON value
is sealed with AES-256-GCM under the event's data-subject key.
"""

from __future__ import annotations

import builtins
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

T = TypeVar("T")


class _PersonalMarker:
    def __repr__(self) -> str:
        return "PERSONAL"


PERSONAL = _PersonalMarker()
Personal = Annotated[T, PERSONAL]


class LedgerInputError(ValueError):
    """Bad input to the ledger; nothing was appended."""


class UnknownEventType(LedgerInputError):
    pass


class SchemaMismatch(LedgerInputError):
    pass


@dataclass(frozen=True, slots=True)
class EventSpec:
    type: str
    version: int
    cls: builtins.type
    fields: Mapping[str, Any]  # name -> type (Annotated stripped)
    personal: frozenset[str]


_by_class: dict[type, EventSpec] = {}
_by_name: dict[tuple[str, int], EventSpec] = {}
_SCALARS: tuple[type, ...] = (str, int, float, bool)


def _check_type_supported(event_type: str, name: str, tp: Any) -> None:
    origin = typing.get_origin(tp)
    if tp in _SCALARS or tp is Any:
        return
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                _check_type_supported(event_type, name, arg)
        return
    if origin is list:
        (inner,) = typing.get_args(tp)
        _check_type_supported(event_type, name, inner)
        return
    if origin is dict and typing.get_args(tp)[0] is str:
        return
    raise TypeError(f"{event_type}.{name}: type {tp!r} cannot be stored in the ledger")


def register_event(event_type: str, *, version: int) -> Callable[[type[T]], type[T]]:
    """Class decorator declaring a frozen dataclass as ledger event ``event_type`` v``version``."""
    if not event_type or len(event_type) > 200 or " " in event_type:
        raise ValueError(f"bad event type name {event_type!r}")
    if version < 1:
        raise ValueError("schema versions start at 1")

    def decorate(cls: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise TypeError(f"{cls.__name__}: ledger events are frozen dataclasses")
        if (event_type, version) in _by_name and _by_name[(event_type, version)].cls is not cls:
            raise ValueError(f"event type {event_type} v{version} is registered twice")
        hints = typing.get_type_hints(cls, include_extras=True)
        fields: dict[str, Any] = {}
        personal: set[str] = set()
        for field in dataclasses.fields(cls):
            hint = hints[field.name]
            if typing.get_origin(hint) is Annotated:
                base, *extras = typing.get_args(hint)
                if any(extra is PERSONAL for extra in extras):
                    personal.add(field.name)
                hint = base
            _check_type_supported(event_type, field.name, hint)
            fields[field.name] = hint
        spec = EventSpec(event_type, version, cls, fields, frozenset(personal))
        _by_class[cls] = spec
        _by_name[(event_type, version)] = spec
        return cls

    return decorate


def spec_for_instance(event: object) -> EventSpec:
    spec = _by_class.get(type(event))
    if spec is None:
        raise UnknownEventType(
            f"{type(event).__name__} is not a registered ledger event type (use @register_event)"
        )
    return spec


def spec_for(event_type: str, version: int) -> EventSpec | None:
    return _by_name.get((event_type, version))


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return isinstance(value, list) and all(_matches(item, inner) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(key, str) for key in value)
    return False


def event_payload(event: object) -> tuple[EventSpec, dict[str, Any]]:
    """Validate ``event`` against its schema and return (spec, plain payload dict)."""
    spec = spec_for_instance(event)
    payload = {name: getattr(event, name) for name in spec.fields}
    for name, tp in spec.fields.items():
        if not _matches(payload[name], tp):
            raise SchemaMismatch(
                f"{spec.type} v{spec.version}: field {name!r} is "
                f"{type(payload[name]).__name__} {payload[name]!r:.40}, schema says {tp!r}"
            )
    return spec, payload


def event_from_payload(spec: EventSpec, payload: Mapping[str, Any]) -> Any:
    factory: Any = spec.cls
    return factory(**{name: payload.get(name) for name in spec.fields})
