"""Turn captured event rows back into model instances and send Django's ``post_delete``.

This module knows no SQL: it receives events (``DeletedRow`` instances or
:class:`EventRecord` tuples read by :mod:`rowsync.events.delivery`), rebuilds the instance
from the row image with ``Model.from_db`` and sends the signals. The worker calls
:func:`deliver`; in-process delivery calls :func:`deliver_one` in its streaming loop.
"""

from __future__ import annotations

import datetime
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_delete, post_init, pre_init
from django.utils import timezone

from rowsync import conf
from rowsync.events import context as context_module
from rowsync.events import receivers
from rowsync.events import signals as rowsync_signals
from rowsync.events.capture import is_captured, model_option
from rowsync.exceptions import RowsyncError

__all__ = [
    "EventDecodeError",
    "EventLike",
    "EventRecord",
    "Outcome",
    "deliver",
    "deliver_one",
    "fast_rebuild_ok",
    "inherited_keys",
    "rebuild",
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


class EventLike(Protocol):
    """What :func:`deliver` reads from an event (``DeletedRow`` satisfies it)."""

    @property
    def id(self) -> Any: ...
    @property
    def model_label(self) -> str: ...
    @property
    def table_name(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def row(self) -> Any: ...
    @property
    def changes(self) -> Any: ...
    @property
    def context(self) -> Any: ...


class EventRecord(NamedTuple):
    """A light event read with a raw cursor by in-process delivery."""

    id: int
    model_label: str
    table_name: str
    op: str
    row: Any
    changes: Any
    context: Any
    pk_text: str = ""
    delivered_through: str = ""


@dataclass
class Outcome:
    """What happened to one event in :func:`deliver`.

    Attributes:
        event_id: The event's id.
        instance: The rebuilt instance (None if it could not be rebuilt).
        error: The first exception a receiver raised, or the decode error.
        permanent: True when retrying cannot help (the event cannot be decoded):
            dead-letter it with ``str(error)`` as the reason.
    """

    event_id: Any
    instance: models.Model | None = None
    error: BaseException | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        """Return whether the event was delivered without any error."""
        return self.error is None


# Decimal keeps NUMERIC columns exact (PostgreSQL writes them as JSON numbers). One
# decoder for all: json.loads(..., parse_float=...) would build a new one per call.
_DECODER = json.JSONDecoder(parse_float=Decimal)


def _load_json(value: Any) -> Any:
    if isinstance(value, str):
        return _DECODER.decode(value)
    if isinstance(value, bytes | bytearray):
        return _DECODER.decode(value.decode())
    return value


def _convert(field: models.Field[Any, Any], value: Any) -> Any:
    """Turn one JSON value of a row image into the Python value ``field`` holds."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        # Every backend's trigger nests JSON columns as JSON (json(), JSON_EXTRACT, jsonb).
        return value
    if isinstance(field, models.BinaryField):
        text = str(value)
        # PostgreSQL renders bytea as "\\x...", the other engines' triggers use hex().
        return bytes.fromhex(text[2:] if text.startswith("\\x") else text)
    if isinstance(field, models.FloatField) and isinstance(value, Decimal):
        return float(value)
    if isinstance(field, models.DecimalField) and isinstance(value, float):
        value = repr(value)
    internal = field.get_internal_type()
    if internal in {"DateTimeField"}:
        parsed = field.to_python(value)
        if settings.USE_TZ and isinstance(parsed, datetime.datetime) and timezone.is_naive(parsed):
            # SQLite and MariaDB store UTC without an offset (Django's convention).
            parsed = timezone.make_aware(parsed, datetime.UTC)
        return parsed
    if isinstance(field, models.ForeignKey):
        return field.target_field.to_python(value)
    return field.to_python(value)


# {model label: model}
_MODELS: dict[str, type[models.Model]] = {}


def resolve_model(event: EventLike) -> type[models.Model]:
    """Return the captured model an event belongs to.

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


class _Plan(NamedTuple):
    """How to rebuild instances of one model from row images."""

    pk_column: str
    # [(column, attname, converter)] of the table's own columns (the row image's)
    fields: list[tuple[str, str, Any]]
    #: The inherited keys (:func:`inherited_keys`) followed by the attnames of ``fields``.
    attnames: tuple[str, ...]
    # Whether the instance may be built without Model.__init__ (see _can_skip_init).
    skip_init: bool
    #: Attnames of the parents' primary keys (multi-table inheritance), set to the pk.
    inherited: tuple[str, ...] = ()
    #: Position of the primary key in ``fields``.
    pk_index: int = 0
    #: ``[(column, attname, converter)]`` of the parents' fields whose column no local
    #: field has: a row image holds none, but a full payload (``handoff``) does.
    parent_fields: tuple[tuple[str, str, Any], ...] = ()
    #: Every concrete attname, in ``from_db``'s order (multi-table inheritance only).
    order: tuple[str, ...] = ()


# {model: plan}
_PLANS: dict[type[models.Model], _Plan] = {}

# Fields whose JSON value already is the Python value when it has the right type.
_PASSTHROUGH: dict[str, type] = {
    "AutoField": int,
    "BigAutoField": int,
    "SmallAutoField": int,
    "IntegerField": int,
    "BigIntegerField": int,
    "SmallIntegerField": int,
    "PositiveIntegerField": int,
    "PositiveBigIntegerField": int,
    "PositiveSmallIntegerField": int,
    "CharField": str,
    "TextField": str,
    "SlugField": str,
    "EmailField": str,
    "URLField": str,
    "FileField": str,
    "ImageField": str,
    "FilePathField": str,
}


def _datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if settings.USE_TZ and parsed.tzinfo is None:
                # SQLite and MariaDB store UTC without an offset (Django's convention).
                parsed = parsed.replace(tzinfo=datetime.UTC)
            return parsed
    return value


def _converter(field: models.Field[Any, Any]) -> Any:
    """Return a fast converter for ``field``: None when JSON already has the value."""
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    kind = _PASSTHROUGH.get(target.get_internal_type())
    if kind is not None:

        def convert(value: Any, kind: type = kind, field: Any = field) -> Any:
            if value is None or type(value) is kind:
                return value
            return _convert(field, value)

        return convert
    if field.get_internal_type() == "DateTimeField":

        def convert_dt(value: Any, field: Any = field) -> Any:
            parsed = _datetime(value)
            return parsed if parsed is not value or value is None else _convert(field, value)

        return convert_dt
    return lambda value, field=field: _convert(field, value)


# Descriptors whose __set__ on a new instance only stores the value in __dict__ (or that
# have no __set__): for fields using them, writing __dict__ is what Model.__init__ does.
_PLAIN_DESCRIPTORS: tuple[type, ...] = (
    DeferredAttribute,
    ForeignKeyDeferredAttribute,
    FileDescriptor,
)


def _can_skip_init(model: type[models.Model]) -> bool:
    """Return whether instances of ``model`` can be built without ``Model.__init__``.

    True when nothing can tell the difference: the model keeps Django's ``__init__`` and
    ``from_db`` (or rowsync's identity-map ``from_db``, for a model it does not map), and
    every field's class attribute is one of Django's plain descriptors. Callers must also
    check that no ``pre_init``/``post_init`` receiver listens (:func:`fast_rebuild_ok`).
    """
    if model.__init__ is not models.Model.__init__:
        return False
    from_db = inspect.getattr_static(model, "from_db", None)
    func = getattr(from_db, "__func__", None)
    if func is None or from_db is not inspect.getattr_static(models.Model, "from_db", None):
        return False
    if func.__module__ not in {"django.db.models.base", "rowsync.identity.loading"}:
        return False
    if func.__module__ == "rowsync.identity.loading" and _identity_maps(model):
        return False
    for f in model._meta.concrete_fields:
        descriptor = inspect.getattr_static(model, f.attname, None)
        if type(descriptor) not in _PLAIN_DESCRIPTORS:
            return False
    return True


def _identity_maps(model: type[models.Model]) -> bool:
    options_for = _identity_hook("options_for")
    return options_for is None or options_for(model) is not None


def inherited_keys(model: type[models.Model]) -> tuple[str, ...]:
    """Return the attnames of the parents' primary keys of a multi-table inheritance child.

    A row image holds the columns of the model's own table; the parents' keys (``id`` of
    the root, the ``*_ptr_id`` of each parent in between) hold the same value as the
    child's primary key. They come first in ``concrete_fields`` (parents before the
    child), so prepending them keeps ``from_db``'s field order.
    """
    local = set(model._meta.local_concrete_fields)
    return tuple(
        f.attname for f in model._meta.concrete_fields if f not in local and f.primary_key
    )


def _plan(model: type[models.Model]) -> _Plan:
    plan = _PLANS.get(model)
    if plan is None:
        fields = [(f.column, f.attname, _converter(f)) for f in model._meta.local_concrete_fields]
        assert model._meta.pk is not None
        inherited = inherited_keys(model)
        columns = [column for column, _a, _f in fields]
        parents = tuple(
            (f.column, f.attname, _converter(f))
            for f in model._meta.concrete_fields
            if f.model is not model and f.column not in columns and f.attname not in inherited
        )
        plan = _PLANS[model] = _Plan(
            model._meta.pk.column,
            fields,
            inherited + tuple(attname for _c, attname, _f in fields),
            _can_skip_init(model),
            inherited,
            columns.index(model._meta.pk.column),
            parents,
            tuple(f.attname for f in model._meta.concrete_fields) if inherited else (),
        )
    return plan


def fast_rebuild_ok(model: type[models.Model]) -> bool:
    """Return whether :func:`rebuild` may skip ``Model.__init__`` for ``model`` right now.

    Receivers may connect at any time: callers ask once per batch, not once per process.
    """
    return (
        _plan(model).skip_init
        and not pre_init.has_listeners(model)
        and not post_init.has_listeners(model)
    )


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
    plan = _plan(model)
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
            return _new_instance(model, plan.attnames, image, using)
    pk_column, fields = plan.pk_column, plan.fields
    if pk_column not in row:
        raise EventDecodeError(
            f"row image of {model._meta.label} has no primary key column {pk_column!r} "
            f"(columns: {sorted(row)})"
        )
    # {attname: value}
    found: dict[str, Any] = {}
    for column, attname, convert in (*fields, *plan.parent_fields):
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
        pk_value = found[fields[plan.pk_index][1]]
        found.update(dict.fromkeys(plan.inherited, pk_value))
        # from_db() takes the values in the order of concrete_fields.
        found = {attname: found[attname] for attname in plan.order if attname in found}
    names, values = list(found), list(found.values())
    if not fast:
        return from_row_image(model, names, values, using)
    return _new_instance(model, names, values, using)


def from_row_image(
    model: type[models.Model], names: Sequence[str], values: Sequence[Any], using: str
) -> models.Model:
    """Build the instance of a row image with ``model.from_db``, outside the identity map.

    The event shows the row the database wrote, not a mapped instance (whose unsaved
    edits would hide it); the map is updated from the image afterwards.
    """
    unmapped = _identity_hook("unmapped")
    if unmapped is None:
        return model.from_db(using, names, values)
    with unmapped():
        return model.from_db(using, names, values)


def _new_instance(
    model: type[models.Model], names: Sequence[str], values: Sequence[Any], using: str
) -> models.Model:
    """Do what ``from_db()`` -> ``Model.__init__(*values)`` does, where nothing can tell.

    Only for models :func:`fast_rebuild_ok` accepts (no init receiver, plain
    descriptors); fields left out stay deferred.
    """
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = ModelState()
    state.adding = False
    state.db = using
    return instance


# {hook name: function or None}
_HOOKS: dict[str, Any] = {}


def _identity_hook(name: str) -> Any:
    try:
        return _HOOKS[name]
    except KeyError:
        pass
    # Imported lazily: the identity subsystem may not provide the hook (yet).
    from rowsync import identity

    hook = _HOOKS[name] = getattr(identity, name, None)
    return hook


def _identity_discard(model: type[models.Model], pk: Any, using: str) -> None:
    discard = _identity_hook("discard_row")
    if discard is not None:
        discard(model, pk, using)


def _identity_update(
    model: type[models.Model], pk: Any, using: str, values: Mapping[str, Any]
) -> None:
    update = _identity_hook("update_row")
    if update is not None:
        update(model, pk, using, values)


def _changed_values(
    model: type[models.Model], changes: Any, instance: models.Model
) -> dict[str, Any]:
    """Return ``{attname: new value}`` for the columns an FK action changed."""
    by_column = {f.column: f for f in model._meta.local_concrete_fields}
    out: dict[str, Any] = {}
    for column in _load_json(changes) or {}:
        field = by_column.get(column)
        if field is not None:
            out[field.attname] = getattr(instance, field.attname)
    return out


Sender = Callable[..., Any]


def _model_mode(model: type[models.Model]) -> str:
    """Return the model's delivery mode (``RowsyncMeta.delivery``, else the setting)."""
    return str(model_option(model, "delivery") or conf.delivery_mode())


def deliver_one(
    event: EventLike,
    using: str,
    origin: Any = None,
    *,
    robust: bool = False,
    send: Sender | None = None,
    fast: bool | None = None,
    only: Sequence[Callable[..., Any]] | None = None,
) -> Outcome:
    """Deliver one event: evict/update the identity map, then send the signal.

    Deleted rows get Django's ``post_delete(sender, instance, using, origin)``; rows an FK
    action changed (``SET_NULL``/``SET_DEFAULT``/``SET``) get
    :data:`rowsync.events.signals.post_db_update`. The event's actor context is set on the
    instance as ``instance._rowsync_context`` (also available from
    :func:`rowsync.events.context.event_context` during delivery).

    Args:
        event: The event.
        using: The database alias the row lived in.
        origin: The object or queryset whose delete caused it (None when unknown).
        robust: Catch receiver errors into the outcome instead of raising them.
        send: Replacement for ``signal.send`` (in-process delivery filters receivers).
        fast: Whether :func:`rebuild` may skip ``Model.__init__`` (None: ask
            :func:`fast_rebuild_ok`; batch callers ask once per batch).
        only: Call only these receivers (in-process phases,
            :func:`rowsync.events.receivers.split`). None: every receiver, except those
            an earlier phase already called (the event's ``delivered_through``).

    Raises:
        EventDecodeError: only when ``robust`` is False and the event cannot be decoded.
        Exception: whatever a receiver raises, when ``robust`` is False.
    """
    outcome = Outcome(event_id=event.id)
    try:
        model = resolve_model(event)
        row = _load_json(event.row)
        if not isinstance(row, dict):
            raise EventDecodeError(f"event {event.id}: row image is not an object: {row!r}")
        if fast is None:
            fast = fast_rebuild_ok(model)
        instance = rebuild(model, row, using, fast=fast)
    except EventDecodeError as exc:
        if not robust:
            raise
        outcome.error, outcome.permanent = exc, True
        return outcome
    outcome.instance = instance
    ctx = _load_json(event.context)
    instance._rowsync_context = ctx  # type: ignore[attr-defined]
    token = context_module.push_event_context(ctx)
    try:
        if event.op == UPDATE:
            _identity_update(
                model, instance.pk, using, _changed_values(model, event.changes, instance)
            )
            signal: Any = rowsync_signals.post_db_update
            kwargs: dict[str, Any] = {"changes": _load_json(event.changes) or {}}
        else:
            _identity_discard(model, instance.pk, using)
            signal = post_delete
            kwargs = {}
        through = getattr(event, "delivered_through", "") or ""
        if only is None and through:
            # An earlier phase called some receivers: call the others (worker, replay).
            part = receivers.split(signal, model, _model_mode(model), through, "worker")
            only = None if part.everyone else part.now
        if only is not None:
            error = receivers.send_to(
                only,
                signal,
                model,
                robust=robust,
                instance=instance,
                using=using,
                origin=origin,
                **kwargs,
            )
            if outcome.error is None:
                outcome.error = error
        elif send is not None:
            send(signal, model, instance, using, origin, kwargs)
        elif robust:
            for _receiver, result in signal.send_robust(
                sender=model, instance=instance, using=using, origin=origin, **kwargs
            ):
                if isinstance(result, Exception) and outcome.error is None:
                    outcome.error = result
        else:
            signal.send(sender=model, instance=instance, using=using, origin=origin, **kwargs)
    finally:
        context_module.pop_event_context(token)
    return outcome


def deliver(events: Iterable[EventLike], using: str, origin: Any = None) -> list[Outcome]:
    """Deliver events one by one, never raising: the worker's entry point.

    Every receiver runs for every event, even when another receiver raised (Django's
    ``send_robust``); the outcome of an event carries the first error. An event whose
    outcome is ``permanent`` can never be decoded (unknown model, unreadable image):
    dead-letter it; retry the others that carry an error.

    Args:
        events: ``DeletedRow`` instances or :class:`EventRecord` tuples.
        using: Database alias the rows were deleted from.
        origin: Passed to ``post_delete`` as ``origin`` (workers pass None).

    Returns:
        One :class:`Outcome` per event, in order.
    """
    return [deliver_one(event, using, origin, robust=True) for event in events]
