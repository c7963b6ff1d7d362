"""System checks of the events subsystem: ``rowsync.E060``-``E089`` and ``E170``-``E189``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks

from rowsync import conf
from rowsync.events.capture import (
    DELIVERY_MODES,
    capture_requested,
    is_captured,
    model_option,
)
from rowsync.events.receivers import invalid_declarations

__all__ = ["check_capture"]


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
    errors: list[checks.CheckMessage] = []
    for name, receiver_mode in invalid_declarations():
        errors.append(
            checks.Error(
                f"receiver_delivery({receiver_mode!r}) on the receiver {name} is not a "
                "delivery mode.",
                hint=f"Use one of {', '.join(map(repr, DELIVERY_MODES))}.",
                obj=name,
                id="rowsync.E065",
            )
        )
    mode = conf.delivery_mode()
    if mode not in DELIVERY_MODES:
        errors.append(
            checks.Error(
                f"ROWSYNC_DELIVERY is {mode!r}.",
                hint=f"Use one of {', '.join(map(repr, DELIVERY_MODES))}.",
                id="rowsync.E060",
            )
        )
    selection = conf.capture_selection()
    if isinstance(selection, str) and selection != "__all__" and not selection:
        errors.append(
            checks.Error(
                f"ROWSYNC_CAPTURE is {selection!r}.",
                hint='Use "__all__" or a list of "app_label" / "app_label.ModelName".',
                id="rowsync.E064",
            )
        )
    models = (
        [m for config in app_configs for m in config.get_models()]
        if app_configs is not None
        else apps.get_models()
    )
    for model in models:
        delivery = model_option(model, "delivery")
        if delivery is not None and delivery not in DELIVERY_MODES:
            errors.append(
                checks.Error(
                    f"RowsyncMeta.delivery is {delivery!r}.",
                    hint=f"Use one of {', '.join(map(repr, DELIVERY_MODES))}.",
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
        if not is_captured(model):
            continue
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
