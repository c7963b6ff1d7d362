"""System checks of the events subsystem: ``rowsync.E060``-``E089`` and ``E170``-``E189``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks
from django.db import models
from django.db.models.signals import ModelSignal, post_delete, post_save, pre_delete
from django.dispatch import Signal

from rowsync import conf, ondelete
from rowsync.checks import did_you_mean
from rowsync.events.capture import (
    DELIVERY_MODES,
    capture_requested,
    is_captured,
    model_option,
)
from rowsync.events.receivers import invalid_declarations
from rowsync.events.signals import post_delete_batch

__all__ = [
    "check_batch_receivers",
    "check_capture",
    "check_lost_side_effects",
    "lost_side_effects",
    "uncalled_batch_receivers",
]

# {SQL action: the signals Django would have sent for the changed rows}
_SIGNALS: dict[str, tuple[tuple[str, ModelSignal], ...]] = {
    "CASCADE": (("pre_delete", pre_delete), ("post_delete", post_delete)),
    "SET NULL": (("post_save", post_save),),
    "SET DEFAULT": (("post_save", post_save),),
}


def _receiver_names(signal: Signal, model: type[models.Model] | None) -> list[str]:
    """Return the names of ``signal``'s live receivers for ``model``, rowsync's left out.

    ``None``: the receivers connected for every sender only.
    """
    live: Any = signal._live_receivers(model)
    # Django >= 5.0 returns (sync receivers, async receivers).
    receivers = [*live[0], *live[1]] if isinstance(live, tuple) else list(live)
    names = []
    for receiver in receivers:
        module = getattr(receiver, "__module__", "") or ""
        name = getattr(receiver, "__qualname__", None) or type(receiver).__qualname__
        if module.split(".")[0] != "rowsync":
            names.append(f"{module}.{name}")
    return names


def lost_side_effects(
    relations: Any, selected: set[type[models.Model]]
) -> list[checks.CheckMessage]:
    """rowsync.W120: the database deletes or updates rows whose side effects nobody handles.

    Args:
        relations: A :class:`rowsync.ondelete.plan.Plan`, or ``{fk: SQL action}`` as
            :func:`rowsync.ondelete.unseen_relations` returns.
        selected: The models to report on.
    """
    if not isinstance(relations, dict):
        relations = ondelete.unseen_relations(relations)
    messages: list[checks.CheckMessage] = []
    for fk, action in relations.items():
        model = fk.model._meta.concrete_model
        if model not in selected or model._meta.auto_created or is_captured(model):
            continue
        lost = [
            f"{signal_name} receiver {name}"
            for signal_name, signal in _SIGNALS[action]
            for name in _receiver_names(signal, model)
        ]
        if action == "CASCADE":
            lost += [
                f"FileField {f.name}"
                for f in model._meta.concrete_fields
                if isinstance(f, models.FileField)
            ]
        if not lost:
            continue
        done = "deletes" if action == "CASCADE" else "updates"
        messages.append(
            checks.Warning(
                f"The database {done} {model._meta.label} rows through "
                f"{fk.model._meta.label}.{fk.name} ({action}) without Django, so these "
                f"never run or are never cleaned up: {'; '.join(lost)}.",
                hint=f'Capture the model (ROWSYNC_CAPTURE = [..., "{model._meta.label}"] or '
                "RowsyncMeta.capture = True) to get its signals from the database, or keep "
                "the relation at the Python level.",
                obj=fk,
                id="rowsync.W120",
            )
        )
    return messages


def check_lost_side_effects(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """rowsync.W120: see :func:`lost_side_effects`."""
    models_ = (
        {m for config in app_configs for m in config.get_models()}
        if app_configs is not None
        else set(apps.get_models())
    )
    return lost_side_effects(ondelete.unseen_relations(), models_)


def uncalled_batch_receivers(models_: Iterable[type[models.Model]]) -> list[checks.CheckMessage]:
    """rowsync.W121: a ``post_delete_batch`` receiver names a model rowsync does not capture.

    Batch receivers get the rows the database deletes, which only captured models report:
    one connected for another model's deletes is never called. Receivers connected for
    every sender are left alone.
    """
    everyone = set(_receiver_names(post_delete_batch, None))  # connected for any sender
    messages: list[checks.CheckMessage] = []
    for model in models_:
        if model._meta.auto_created or model._meta.proxy or is_captured(model):
            continue
        names = [n for n in _receiver_names(post_delete_batch, model) if n not in everyone]
        if names:
            messages.append(
                checks.Warning(
                    f"{', '.join(names)} receive{'s' if len(names) == 1 else ''} "
                    f"post_delete_batch for {model._meta.label}, which rowsync does not "
                    "capture: never called (batch receivers get the rows the database "
                    "deletes of captured models only).",
                    hint=f'Capture the model (ROWSYNC_CAPTURE = [..., "{model._meta.label}"] '
                    "or RowsyncMeta.capture = True), or connect a post_delete receiver.",
                    obj=model,
                    id="rowsync.W121",
                )
            )
    return messages


def check_batch_receivers(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """rowsync.W121: see :func:`uncalled_batch_receivers`."""
    if app_configs is None:
        return uncalled_batch_receivers(apps.get_models())
    return uncalled_batch_receivers(m for config in app_configs for m in config.get_models())


def check_capture(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Check the capture and delivery settings and the ``RowsyncMeta`` options.

    * rowsync.E060: ``ROWSYNC_DELIVERY`` is not a delivery mode.
    * rowsync.E061: a model's ``RowsyncMeta.delivery`` is not a delivery mode.
    * rowsync.E062: ``RowsyncMeta.capture_exclude`` names a field the model lacks.
    * rowsync.E063: ``RowsyncMeta.capture_exclude`` names the primary key.
    * rowsync.E064: ``ROWSYNC_CAPTURE`` is neither ``"__all__"`` nor a list of labels.
    * rowsync.E065: ``receiver_delivery(mode)`` was given an unknown mode.
    * rowsync.E170: a model with a composite primary key is asked to be captured.
    """
    models = (
        [m for config in app_configs for m in config.get_models()]
        if app_configs is not None
        else apps.get_models()
    )
    errors = _mode_errors()
    # rowsync.E064 (the shape of ROWSYNC_CAPTURE) is checked with the other selections in
    # rowsync.checks.check_selection_settings.
    for model in models:
        errors += _model_errors(model)
        if is_captured(model):
            errors += _exclude_errors(model)
    return errors


def _modes_hint() -> str:
    return f"Use one of {', '.join(map(repr, DELIVERY_MODES))}."


def _mode_errors() -> list[checks.CheckMessage]:
    """rowsync.E065 (receiver_delivery) and E060 (ROWSYNC_DELIVERY)."""
    errors: list[checks.CheckMessage] = [
        checks.Error(
            f"receiver_delivery({receiver_mode!r}) on the receiver {name} is not a delivery mode.",
            hint=_modes_hint(),
            obj=name,
            id="rowsync.E065",
        )
        for name, receiver_mode in invalid_declarations()
    ]
    mode = conf.delivery_mode()
    if mode not in DELIVERY_MODES:
        errors.append(
            checks.Error(
                f"ROWSYNC_DELIVERY is {conf.given('ROWSYNC_DELIVERY')!r}.",
                hint=_modes_hint() + did_you_mean(mode, DELIVERY_MODES),
                obj="ROWSYNC_DELIVERY",
                id="rowsync.E060",
            )
        )
    return errors


def _model_errors(model: Any) -> list[checks.CheckMessage]:
    """rowsync.E061 (RowsyncMeta.delivery) and E170 (composite primary key)."""
    errors: list[checks.CheckMessage] = []
    delivery = model_option(model, "delivery")
    if delivery is not None and delivery not in DELIVERY_MODES:
        errors.append(
            checks.Error(
                f"RowsyncMeta.delivery is {delivery!r}.",
                hint=_modes_hint(),
                obj=model,
                id="rowsync.E061",
            )
        )
    if model._meta.is_composite_pk and capture_requested(model):
        errors.append(
            checks.Error(
                "rowsync cannot capture the rows of a model with a composite primary "
                "key (CompositePrimaryKey): an event names its row by one key column.",
                hint="Set RowsyncMeta.capture = False on the model (or leave it out of "
                "ROWSYNC_CAPTURE), or give it a single-column primary key.",
                obj=model,
                id="rowsync.E170",
            )
        )
    return errors


def _exclude_errors(model: Any) -> list[checks.CheckMessage]:
    """rowsync.E062/E063: ``RowsyncMeta.capture_exclude`` names no field / the pk."""
    errors: list[checks.CheckMessage] = []
    names = {f.name for f in model._meta.concrete_fields}
    for name in model_option(model, "capture_exclude", ()) or ():
        if name not in names:
            errors.append(
                checks.Error(
                    f"RowsyncMeta.capture_exclude names {name!r}, which is not a "
                    "concrete field of the model.",
                    hint=f"Choose among: {', '.join(sorted(names))}.",
                    obj=model,
                    id="rowsync.E062",
                )
            )
        elif name == model._meta.pk.name:
            errors.append(
                checks.Error(
                    "RowsyncMeta.capture_exclude names the primary key; events need it.",
                    hint=f"Remove {name!r} from capture_exclude.",
                    obj=model,
                    id="rowsync.E063",
                )
            )
    return errors
