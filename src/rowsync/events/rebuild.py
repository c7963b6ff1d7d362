"""Rebuild model instances of deleted rows, from either source a delete leaves behind.

One rebuilder per model, two sources:

* a **JSON row image** (the event table's ``row``, or a ``handoff`` payload): each value
  is converted by a per-field converter (:func:`rebuild`);
* a **typed inbox row** (engines with ``capture_inbox``): each value goes through the
  converters Django applies to a query result of the same column (:func:`typed_plan`),
  so the instance equals one loaded by a query.

Both end in :func:`build`: ``Model.from_db`` outside the identity map, or, for models
where nothing can tell the difference (:func:`fast_rebuild_ok`), a direct fill of
``__dict__`` about twice as fast. Engine facts (how a row image spells bytes, whether its
naive datetimes are UTC) are read from the backend. This module sends nothing.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.utils import timezone

from rowsync.backends import get_backend
from rowsync.events.capture import is_captured
from rowsync.events.instances import (
    build,
    fast_rebuild_ok,
    inherited_keys,
    is_mapped,
    new_instance,
)
from rowsync.exceptions import RowsyncError

__all__ = [
    "EventDecodeError",
    "build",
    "fast_rebuild_ok",
    "inherited_keys",
    "is_mapped",
    "load_json",
    "rebuild",
    "resolve_model",
    "typed_plan",
]

DELETE = "D"
UPDATE = "U"
#: The ops capture triggers write; events with any other op are dead letters.
OPS = frozenset({DELETE, UPDATE})


class EventDecodeError(RowsyncError):
    """An event cannot be turned into an instance (unknown model, unreadable row image).

    Such an event can never be delivered as it is: a worker dead-letters it at once with
    this error's message as the reason instead of retrying it.
    """


# Decimal keeps NUMERIC columns exact (PostgreSQL writes them as JSON numbers). One
# decoder for all: json.loads(..., parse_float=...) would build a new one per call.
_DECODER = json.JSONDecoder(parse_float=Decimal)


def load_json(value: Any) -> Any:
    """Return the Python value of a JSON column (text, bytes, or already decoded)."""
    if isinstance(value, str):
        return _DECODER.decode(value)
    if isinstance(value, bytes | bytearray):
        return _DECODER.decode(value.decode())
    return value


# {model label: model}
_MODELS: dict[str, type[models.Model]] = {}


def resolve_model(event: Any) -> type[models.Model]:
    """Return the captured model an event (``id``, ``op``, ``model_label``...) belongs to.

    The label is only looked up in Django's app registry (nothing is imported), and only
    a model rowsync captures qualifies: anyone who can write the event table could
    otherwise have ``post_delete`` sent for any installed model (``docs/security.md``).

    Raises:
        EventDecodeError: no installed model has the event's label, the model is not
            captured, or the event's ``op`` is not one rowsync writes.
    """
    if event.op not in OPS:
        raise EventDecodeError(
            f"event {event.id}: unknown op {event.op!r} (expected one of {sorted(OPS)})"
        )
    model = _MODELS.get(event.model_label)
    if model is not None:
        return model
    try:
        model = apps.get_model(event.model_label)
    except (LookupError, ValueError):
        raise EventDecodeError(
            f"event {event.id}: model {event.model_label!r} is not installed "
            f"(table {event.table_name!r})"
        ) from None
    if not is_captured(model):
        raise EventDecodeError(
            f"event {event.id}: model {event.model_label!r} is not captured "
            f"(table {event.table_name!r}); rowsync never records its rows"
        )
    _MODELS[event.model_label] = model
    return model


# --- JSON row images ----------------------------------------------------------------------

Converter = Callable[[Any], Any]

# Fields whose JSON value already is the Python value when it has the right type.
_PASSTHROUGH: dict[str, type] = {
    **dict.fromkeys(
        [
            "AutoField",
            "BigAutoField",
            "SmallAutoField",
            "IntegerField",
            "BigIntegerField",
            "SmallIntegerField",
            "PositiveIntegerField",
            "PositiveBigIntegerField",
            "PositiveSmallIntegerField",
        ],
        int,
    ),
    **dict.fromkeys(
        [
            "CharField",
            "TextField",
            "SlugField",
            "EmailField",
            "URLField",
            "FileField",
            "ImageField",
            "FilePathField",
        ],
        str,
    ),
}


class _Image(NamedTuple):
    """How row images of one model, from one database, become instances."""

    pk_column: str
    # [(column, attname, converter)] of the table's own columns (the row image's)
    fields: list[tuple[str, str, Converter]]
    #: The inherited keys (:func:`inherited_keys`) followed by the attnames of ``fields``.
    attnames: tuple[str, ...]
    #: Attnames of the parents' primary keys (multi-table inheritance), set to the pk.
    inherited: tuple[str, ...]
    #: Position of the primary key in ``fields``.
    pk_index: int
    #: ``[(column, attname, converter)]`` of the parents' fields whose column no local
    #: field has: a row image holds none, but a full payload (``handoff``) does.
    parent_fields: tuple[tuple[str, str, Converter], ...]
    #: Every concrete attname, in ``from_db``'s order (multi-table inheritance only).
    order: tuple[str, ...]


class _Facts(NamedTuple):
    """What the engine a row image comes from says about its values."""

    image_bytes: Callable[[str], bytes]
    naive_is_utc: bool


def _aware(value: datetime.datetime, facts: _Facts) -> datetime.datetime:
    if settings.USE_TZ and facts.naive_is_utc and timezone.is_naive(value):
        return value.replace(tzinfo=datetime.UTC)
    return value


def _convert(field: models.Field[Any, Any], value: Any, facts: _Facts) -> Any:
    """Turn one JSON value of a row image into the Python value ``field`` holds."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        # Every backend's trigger nests JSON columns as JSON (json(), JSON_EXTRACT, jsonb).
        return value
    if isinstance(field, models.BinaryField):
        return facts.image_bytes(str(value))
    if isinstance(field, models.FloatField) and isinstance(value, Decimal):
        return float(value)
    if isinstance(field, models.DecimalField) and isinstance(value, float):
        value = repr(value)
    if field.get_internal_type() == "DateTimeField":
        parsed = field.to_python(value)
        return _aware(parsed, facts) if isinstance(parsed, datetime.datetime) else parsed
    if isinstance(field, models.ForeignKey):
        return field.target_field.to_python(value)
    return field.to_python(value)


def _converter(field: models.Field[Any, Any], facts: _Facts) -> Converter:
    """Return a converter for ``field``, quick where JSON already has the value."""
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    kind = _PASSTHROUGH.get(target.get_internal_type())
    if kind is not None:

        def convert(value: Any, kind: type = kind) -> Any:
            if value is None or type(value) is kind:
                return value
            return _convert(field, value, facts)

        return convert
    if field.get_internal_type() == "DateTimeField":

        def convert_dt(value: Any) -> Any:
            if isinstance(value, str):
                try:
                    return _aware(datetime.datetime.fromisoformat(value), facts)
                except ValueError:
                    pass
            return _convert(field, value, facts)

        return convert_dt
    return lambda value: _convert(field, value, facts)


# {(model, alias): plan}
_IMAGES: dict[tuple[type[models.Model], str], _Image] = {}


def _image(model: type[models.Model], using: str) -> _Image:
    plan = _IMAGES.get((model, using))
    if plan is not None:
        return plan
    backend = get_backend(connections[using])
    facts = _Facts(backend.image_bytes, backend.image_naive_datetimes_are_utc())
    fields = [
        (f.column, f.attname, _converter(f, facts)) for f in model._meta.local_concrete_fields
    ]
    assert model._meta.pk is not None
    inherited = inherited_keys(model)
    columns = [column for column, _a, _f in fields]
    plan = _IMAGES[(model, using)] = _Image(
        pk_column=model._meta.pk.column,
        fields=fields,
        attnames=inherited + tuple(attname for _c, attname, _f in fields),
        inherited=inherited,
        pk_index=columns.index(model._meta.pk.column),
        parent_fields=tuple(
            (f.column, f.attname, _converter(f, facts))
            for f in model._meta.concrete_fields
            if f.model is not model and f.column not in columns and f.attname not in inherited
        ),
        order=tuple(f.attname for f in model._meta.concrete_fields) if inherited else (),
    )
    return plan


def rebuild(
    model: type[models.Model], row: Mapping[str, Any], using: str, *, fast: bool = False
) -> models.Model:
    """Rebuild an instance of ``model`` from a row image ``{column: value}``.

    Columns the image lacks (sensitive fields left out, or columns added since the event
    was written) become deferred fields; columns the model no longer has are ignored.
    Accessing a deferred field reloads it from the database, which fails for a deleted
    row, so receivers should check ``instance.get_deferred_fields()``.

    Args:
        model: The model.
        row: The row image.
        using: The database alias the row lived in.
        fast: Skip ``Model.__init__`` (only when :func:`fast_rebuild_ok` said so): the
            instance is the same, built about twice as fast.

    Raises:
        EventDecodeError: the image lacks the primary key, or a value does not fit its field.
    """
    plan = _image(model, using)
    if fast and len(row) == len(plan.fields):
        # The image has exactly the model's columns (the usual case): one pass, no
        # per-column membership tests. Anything unusual takes the careful path below.
        try:
            image = [convert(row[column]) for column, _attname, convert in plan.fields]
        except (KeyError, ValidationError, ValueError, TypeError):
            pass
        else:
            if plan.inherited:
                image[:0] = [image[plan.pk_index]] * len(plan.inherited)
            return new_instance(model, plan.attnames, image, using)
    if plan.pk_column not in row:
        raise EventDecodeError(
            f"row image of {model._meta.label} has no primary key column {plan.pk_column!r} "
            f"(columns: {sorted(row)})"
        )
    # {attname: value}
    found: dict[str, Any] = {}
    for column, attname, convert in (*plan.fields, *plan.parent_fields):
        if column not in row:
            continue
        value = row[column]
        try:
            found[attname] = convert(value)
        except (ValidationError, ValueError, TypeError) as exc:
            raise EventDecodeError(
                f"row image of {model._meta.label}: column {column!r} value "
                f"{value!r} does not fit {attname!r}: {exc}"
            ) from exc
    if plan.inherited:
        pk_value = found[plan.fields[plan.pk_index][1]]
        found.update(dict.fromkeys(plan.inherited, pk_value))
        # from_db() takes the values in the order of concrete_fields.
        found = {attname: found[attname] for attname in plan.order if attname in found}
    return build(model, list(found), list(found.values()), using, fast=fast)


# --- typed inbox rows -----------------------------------------------------------------------


class TypedPlan(NamedTuple):
    """How to turn inbox rows of one model (one alias, one column list) into instances."""

    attnames: list[str]
    #: ``[(position, converter)]`` of the columns Django converts: each converter runs
    #: the chain Django applies to a query result of the column.
    converting: list[tuple[int, Converter]]
    #: How many parents' keys (multi-table inheritance) come first in ``attnames``; they
    #: take the value of the column at ``pk_position``.
    inherited: int
    pk_position: int


def _chain(converters: list[Callable[..., Any]], expression: Any, connection: Any) -> Converter:
    if len(converters) == 1:
        only = converters[0]
        return lambda value: only(value, expression, connection)

    def run(value: Any) -> Any:
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return run


# {(model, alias, columns): plan}
_TYPED: dict[tuple[type[models.Model], str, tuple[str, ...]], TypedPlan] = {}


def typed_plan(model: type[models.Model], using: str, columns: Sequence[str]) -> TypedPlan:
    """Return how inbox rows with ``columns`` (the model's own) become instances."""
    key = (model, using, tuple(columns))
    plan = _TYPED.get(key)
    if plan is not None:
        return plan
    connection = connections[using]
    fast = get_backend(connection).fast_converter
    by_column = {f.column: f for f in model._meta.local_concrete_fields}
    inherited = inherited_keys(model)
    assert model._meta.pk is not None
    converting: list[tuple[int, Converter]] = []
    for position, column in enumerate(columns):
        col = by_column[column].get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if converters:
            converting.append((position, _chain([fast(c) for c in converters], col, connection)))
    plan = _TYPED[key] = TypedPlan(
        [*inherited, *(by_column[column].attname for column in columns)],
        converting,
        len(inherited),
        list(columns).index(model._meta.pk.column),
    )
    return plan
