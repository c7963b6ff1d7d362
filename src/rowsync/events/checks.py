"""System checks of the events subsystem: ``rowsync.E060``-``rowsync.E089``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks

from rowsync import conf
from rowsync.checks import did_you_mean
from rowsync.events.capture import DELIVERY_MODES, is_captured, model_option
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
                f"ROWSYNC_DELIVERY is {conf.given('ROWSYNC_DELIVERY')!r}.",
                hint=f"Use one of {', '.join(map(repr, DELIVERY_MODES))}."
                + did_you_mean(mode, DELIVERY_MODES),
                obj="ROWSYNC_DELIVERY",
                id="rowsync.E060",
            )
        )
    # rowsync.E064 (the shape of ROWSYNC_CAPTURE) is checked with the other selections in
    # rowsync.checks.check_selection_settings.
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
