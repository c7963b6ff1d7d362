"""System checks of the identity map: ids ``rowsync.E001`` to ``rowsync.E029``.

=========  ===================================================================
Id         Problem
=========  ===================================================================
E001       an ``IdentityModel`` has an unknown ``Meta`` option
E002       a rowsync ``Meta`` option (or setting option) is not a bool
E003       a model is enabled twice: by its base class and by the setting
E004       ``ROWSYNC_IDENTITY_MAP`` lists a label twice
E005       ``ROWSYNC_IDENTITY_MAP`` is neither ``"__all__"`` nor a list of labels
E006       ``ROWSYNC_IDENTITY_MAP`` names an unknown app or model
E007       strong references in the shared map without a bound
E008       ``ROWSYNC_IDENTITY_MAP_MAX_STRONG`` is not a positive int or None
E009       ``ROWSYNC_IDENTITY_MAP_OPTIONS`` is malformed or names an unmapped model
E010       a proxy sets identity options that differ from its concrete model's
E011       a proxy is selected by the setting but its concrete model is not
=========  ===================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks
from django.db.models import Model

from rowsync import conf
from rowsync.checks import unknown_label_hint
from rowsync.identity import registry
from rowsync.identity.keys import META_OPTIONS, REGISTRY

_OPTION_NAMES = ", ".join(sorted(META_OPTIONS))


def _error(msg: str, hint: str, id: str, obj: Any = None) -> checks.CheckMessage:
    return checks.Error(msg, hint=hint, obj=obj, id=id)


def _labels_known(label: str) -> bool:
    if label == "__all__":
        return True
    try:
        if "." in label:
            app_label, model_name = label.split(".", 1)
            apps.get_app_config(app_label).get_model(model_name)
        else:
            apps.get_app_config(label)
    except LookupError:
        return False
    return True


def _check_setting() -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    value: object = conf.identity_map_selection()
    if isinstance(value, str) and value:
        labels = [value]
    elif isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(v, str) for v in value
    ):
        labels = list(value)
    else:
        return [
            _error(
                f"ROWSYNC_IDENTITY_MAP must be '__all__' or a list of labels, not {value!r}.",
                'Use "__all__", or e.g. ["blog", "shop.Product"].',
                "rowsync.E005",
            )
        ]
    seen: set[str] = set()
    for label in labels:
        low = label.lower()
        if low in seen:
            errors.append(
                _error(
                    f"ROWSYNC_IDENTITY_MAP lists {label!r} twice.",
                    "Remove the duplicate.",
                    "rowsync.E004",
                )
            )
        seen.add(low)
        if not _labels_known(label) or (label == "__all__" and len(labels) > 1):
            errors.append(
                _error(
                    f"ROWSYNC_IDENTITY_MAP names {label!r}, which is no installed app or model.",
                    unknown_label_hint(label),
                    "rowsync.E006",
                )
            )
    # A model listed by its own label and by its app's label is enabled twice.
    for label in labels:
        if "." in label and label.split(".", 1)[0].lower() in seen:
            errors.append(
                _error(
                    f"ROWSYNC_IDENTITY_MAP enables {label!r} twice (by label and by app).",
                    f"Remove {label!r} or its app label.",
                    "rowsync.E004",
                )
            )
    return errors


def _check_options_setting() -> list[checks.CheckMessage]:
    table = conf.identity_map_options()
    hint = f'e.g. {{"blog.Category": {{"use_strong_refs": True}}}}; options: {_OPTION_NAMES}.'
    if not isinstance(table, dict):
        return [
            _error(
                "ROWSYNC_IDENTITY_MAP_OPTIONS must be a dict of model label -> options.",
                hint,
                "rowsync.E009",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for label, options in table.items():
        model: type[Model] | None = None
        try:
            model = apps.get_model(label) if isinstance(label, str) else None
        except (LookupError, ValueError):
            model = None
        if model is None or not isinstance(options, dict):
            errors.append(
                _error(
                    f"ROWSYNC_IDENTITY_MAP_OPTIONS[{label!r}] must name a model and map it "
                    "to a dict of options.",
                    hint,
                    "rowsync.E009",
                )
            )
            continue
        if not registry.selected_by_setting(model):
            errors.append(
                _error(
                    f"ROWSYNC_IDENTITY_MAP_OPTIONS sets options for {label!r}, which "
                    "ROWSYNC_IDENTITY_MAP does not enable.",
                    "Add the model (or its app) to ROWSYNC_IDENTITY_MAP, or set the "
                    "options in the Meta of an IdentityModel.",
                    "rowsync.E009",
                )
            )
        for name, value in options.items():
            if name not in META_OPTIONS:
                errors.append(
                    _error(
                        f"ROWSYNC_IDENTITY_MAP_OPTIONS[{label!r}] has unknown option {name!r}.",
                        f"Known options: {_OPTION_NAMES}.",
                        "rowsync.E009",
                    )
                )
            elif not isinstance(value, bool):
                errors.append(
                    _error(
                        f"ROWSYNC_IDENTITY_MAP_OPTIONS[{label!r}][{name!r}] must be a bool.",
                        "Use True or False.",
                        "rowsync.E002",
                    )
                )
    return errors


def _check_model(model: type[Model]) -> list[checks.CheckMessage]:
    """Return the identity map's errors for one model (E001-E003, E007, E010, E011)."""
    errors = _check_unknown_meta(model)
    declared = registry.declared_options(model)
    if declared is not None:
        errors += _check_declared_options(model, declared)
    elif model._meta.proxy and registry.selected_by_setting(model):
        errors += _check_selected_proxy(model)
    return errors + _check_shared_strong(model)


def _check_unknown_meta(model: type[Model]) -> list[checks.CheckMessage]:
    """E001: ``Meta`` options neither Django nor rowsync knows."""
    unknown: dict[str, Any] = model.__dict__.get("_rowsync_unknown_meta", {})
    return [
        _error(
            f"{model._meta.label}.Meta has unknown option {name!r}.",
            f"Django's Meta options, or rowsync's: {_OPTION_NAMES}.",
            "rowsync.E001",
            model,
        )
        for name in unknown
    ]


def _check_declared_options(
    model: type[Model], declared: dict[str, Any]
) -> list[checks.CheckMessage]:
    """E002, E003, E010: the options of a model derived from ``IdentityModel``."""
    errors = [
        _error(
            f"{model._meta.label}.Meta.{name} must be a bool, not {value!r}.",
            "Use True or False.",
            "rowsync.E002",
            model,
        )
        for name, value in declared.items()
        if not isinstance(value, bool)
    ]
    if not model._meta.proxy and registry.selected_by_setting(model):
        errors.append(
            _error(
                f"{model._meta.label} is enabled twice: it derives from IdentityModel "
                "and ROWSYNC_IDENTITY_MAP selects it.",
                "Remove it (or its app) from ROWSYNC_IDENTITY_MAP, or derive it from "
                "models.Model.",
                "rowsync.E003",
                model,
            )
        )
    own = model.__dict__.get("_rowsync_identity_meta", {})
    concrete = model._meta.concrete_model
    if model._meta.proxy and concrete is not None:
        base = registry.declared_options(concrete) or {}
        differing = [k for k in own if own.get(k) != base.get(k, META_OPTIONS[k])]
        if differing:
            errors.append(
                _error(
                    f"Proxy {model._meta.label} sets {', '.join(differing)}, which "
                    f"differ from {concrete._meta.label}'s.",
                    "A proxy shares its concrete model's map: set the options on the "
                    "concrete model.",
                    "rowsync.E010",
                    model,
                )
            )
    return errors


def _check_selected_proxy(model: type[Model]) -> list[checks.CheckMessage]:
    """E011: a proxy the setting selects without its concrete model."""
    concrete = model._meta.concrete_model
    if (
        concrete is None
        or registry.selected_by_setting(concrete)
        or registry.declared_options(concrete) is not None
    ):
        return []
    return [
        _error(
            f"Proxy {model._meta.label} is selected by ROWSYNC_IDENTITY_MAP but its "
            f"concrete model {concrete._meta.label} is not.",
            "A proxy shares its concrete model's map: select the concrete model.",
            "rowsync.E011",
            model,
        )
    ]


def _check_shared_strong(model: type[Model]) -> list[checks.CheckMessage]:
    """E007: strong references in the shared map need ``ROWSYNC_IDENTITY_MAP_MAX_STRONG``."""
    opts = REGISTRY.get(model)
    if opts is None or opts.concrete is not model or not (opts.shared and opts.strong):
        return []
    bound = conf.identity_map_max_strong()
    if isinstance(bound, int) and bound > 0:
        return []
    return [
        _error(
            f"{model._meta.label} uses strong references in the shared map without "
            "a bound: every instance any thread loads stays in memory for the "
            "life of the process and is never refreshed by the request cycle.",
            "Use weak references for shared models, or set ROWSYNC_IDENTITY_MAP_MAX_STRONG.",
            "rowsync.E007",
            model,
        )
    ]


def check_identity(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Run the identity map's checks (E001-E011)."""
    errors = _check_setting() + _check_options_setting()
    bound = conf.identity_map_max_strong()
    if bound is not None and not (
        isinstance(bound, int) and not isinstance(bound, bool) and bound > 0
    ):
        errors.append(
            _error(
                f"ROWSYNC_IDENTITY_MAP_MAX_STRONG must be a positive int or None, not {bound!r}.",
                "e.g. ROWSYNC_IDENTITY_MAP_MAX_STRONG = 10_000",
                "rowsync.E008",
            )
        )
    configs = app_configs if app_configs is not None else apps.get_app_configs()
    for config in configs:
        for model in config.get_models():
            errors.extend(_check_model(model))
    return errors
