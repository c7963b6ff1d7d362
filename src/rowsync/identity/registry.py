"""Decide which models are mapped, with which options, and register them.

A concrete model is mapped when it derives from ``IdentityModel`` or when the
``ROWSYNC_IDENTITY_MAP`` setting selects it. Its options come from its ``Meta``
(base class) or from ``ROWSYNC_IDENTITY_MAP_OPTIONS["app_label.Model"]`` (setting).
Proxies are mapped with their concrete model's options (one map per proxy family).
Invalid configuration is skipped here and reported by the system checks.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import Model

from rowsync import conf, selection
from rowsync.identity.keys import META_OPTIONS, REGISTRY, IdentityOptions

_ready = False


def declared_options(model: type[Model]) -> dict[str, Any] | None:
    """Return the ``Meta`` options of an ``IdentityModel`` subclass, None for other models."""
    meta: dict[str, Any] | None = getattr(model, "_rowsync_identity_meta", None)
    return meta


def valid_selection() -> object:
    """Return ``ROWSYNC_IDENTITY_MAP`` if its shape is valid, else ``()`` (see E005)."""
    value: object = conf.identity_map_selection()
    return value if selection.parse(value).valid else ()


def setting_options(model: type[Model]) -> dict[str, Any]:
    """Return ``ROWSYNC_IDENTITY_MAP_OPTIONS`` for ``model`` (by label, case-insensitive)."""
    table = conf.identity_map_options()
    if not isinstance(table, dict):
        return {}
    for label, options in table.items():
        if isinstance(label, str) and label.lower() == model._meta.label_lower:
            return options if isinstance(options, dict) else {}
    return {}


#: Models ``"__all__"`` and app labels leave out (naming one maps it). Django's
#: ``ContentTypeManager`` already keeps one ``ContentType`` per row, in a process-wide
#: cache every thread and request shares: a context's map cannot own those objects, and
#: a rollback in one context would unload the fields of an object Django hands to all
#: (each field then costs a query where Django runs none).
CACHED_BY_DJANGO = ("contenttypes.contenttype",)


def selected_by_setting(model: type[Model]) -> bool:
    """Return whether ``ROWSYNC_IDENTITY_MAP`` names ``model`` (or its app)."""
    # The identity map is about objects, not tables: unmanaged models and proxies follow
    # "__all__" and app labels too.
    chosen = valid_selection()
    label = model._meta.label_lower
    if label in CACHED_BY_DJANGO and label not in selection.parse(chosen).labels:
        return False
    return selection.selects(chosen, model, conf.identity_map_exclude(), tables_only=False)


def _bool_options(raw: dict[str, Any]) -> dict[str, bool]:
    return {
        k: bool(raw.get(k, d)) if isinstance(raw.get(k, d), bool) else d
        for k, d in META_OPTIONS.items()
    }


def options_from_config(model: type[Model]) -> IdentityOptions | None:
    """Return the options ``model`` (concrete) should be mapped with, None if unmapped."""
    declared = declared_options(model)
    if declared is not None:
        raw, source = declared, "base class"
    elif selected_by_setting(model):
        raw, source = setting_options(model), "setting"
    else:
        return None
    values = _bool_options(raw)
    return IdentityOptions(
        model,
        strong=values["use_strong_refs"],
        multi_db=values["multi_db"],
        shared=values["shared_identity"],
        source=source,
    )


def register(model: type[Model]) -> IdentityOptions | None:
    """Register ``model`` (concrete or proxy) if the configuration maps it."""
    if model in REGISTRY:
        return REGISTRY[model]
    meta = model._meta
    if meta.abstract or meta.swapped:
        return None
    if meta.proxy:
        concrete = meta.concrete_model
        assert concrete is not None
        opts = REGISTRY.get(concrete) or register(concrete)
        if opts is None:
            return None
    else:
        opts = options_from_config(model)
        if opts is None:
            return None
    REGISTRY[model] = opts
    _expose_options(meta)
    _connect(model)
    return opts


def _option(name: str, attr: str, doc: str, *, writable: bool = True) -> Any:
    """Return a ``_meta`` property showing (and setting) one identity option."""

    def get(self: Any) -> bool:
        return bool(getattr(REGISTRY[self.model], attr))

    def put(self: Any, value: bool) -> None:
        REGISTRY[self.model].set_option(name, value)

    return property(get, put if writable else None, doc=doc)


class IdentityMetaOptions:
    """Mixed into a mapped model's ``_meta`` class: django-idmap's run-time options.

    ``Model._meta.use_strong_refs`` / ``multi_db`` read the model's identity options and
    can be assigned (see :meth:`IdentityOptions.set_option`); ``shared_identity`` is
    read-only.
    """

    model: type[Model]
    use_strong_refs = _option("use_strong_refs", "strong", "Instances are held strongly.")
    multi_db = _option("multi_db", "multi_db", "Instances are keyed by database too.")
    shared_identity = _option(
        "shared_identity", "shared", "The process-wide map is used.", writable=False
    )


# {Options class: its subclass with IdentityMetaOptions mixed in}
_META_CLASSES: dict[type[Any], type[Any]] = {}


def _expose_options(meta: Any) -> None:
    """Give a mapped model's ``_meta`` the ``use_strong_refs``/``multi_db`` attributes."""
    cls = type(meta)
    if issubclass(cls, IdentityMetaOptions):
        return
    sub = _META_CLASSES.get(cls)
    if sub is None:
        sub = _META_CLASSES[cls] = type(f"Identity{cls.__name__}", (IdentityMetaOptions, cls), {})
    meta.__class__ = sub


def _connect(model: type[Model]) -> None:
    from rowsync.identity import patches, signals

    patches.install()
    signals.connect()


def build() -> None:
    """Register every installed model the configuration maps (concrete models first)."""
    global _ready
    models = apps.get_models()
    for model in models:
        if not model._meta.proxy:
            register(model)
    for model in models:
        if model._meta.proxy:
            register(model)
    _ready = True


def class_created(model: type[Model]) -> None:
    """Register an ``IdentityModel`` subclass created after ``setup()`` (e.g. in tests)."""
    if _ready:
        register(model)
