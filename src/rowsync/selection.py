"""Match models against a ``"__all__"`` / ``"app_label"`` / ``"app_label.Model"`` setting.

One rule for the three model selections (``ROWSYNC_IDENTITY_MAP``, ``ROWSYNC_DB_ON_DELETE``,
``ROWSYNC_CAPTURE``) and their ``…_EXCLUDE`` settings:

* rowsync's own models, Django's migration history and models without a table
  (abstract, swapped) are never selected, not even by name: capturing the event table
  would capture its own deletes forever, and their migrations belong to rowsync.
* ``"__all__"`` and app labels select the models of a project, not every class with a
  ``Meta``: unmanaged models and proxies (no table of their own) are left out unless
  ``tables_only=False`` (the identity map, which is about objects, not tables).
  They can still be named one by one.
* An exclusion leaves models out of ``"__all__"`` and app-label selections; a model named
  by its own label stays selected.

Values of the wrong shape select nothing; the system checks report them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Model

ALL = "__all__"

# The app labels of rowsync's own models (the event table, capture sessions, ...).
_OWN_APP_LABELS = frozenset({"rowsync"})


@dataclass(frozen=True)
class Selection:
    """A parsed model selection.

    Attributes:
        everything: Whether ``"__all__"`` was given.
        labels: The lower-cased ``"app_label"`` / ``"app_label.modelname"`` labels.
        valid: False when the value had the wrong shape (it then selects nothing).
    """

    everything: bool = False
    labels: frozenset[str] = frozenset()
    valid: bool = True


def parse(value: object) -> Selection:
    """Return the :class:`Selection` of a setting value, empty (and invalid) for a bad shape.

    Args:
        value: ``"__all__"``, one label, or a list/tuple/set of labels.

    Returns:
        The parsed selection; ``valid`` is False for any other value (None, True, ``[1]``).
    """
    if isinstance(value, str):
        if value == ALL:
            return Selection(everything=True)
        value = [value]
    if isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(label, str) for label in value
    ):
        return Selection(labels=frozenset(label.lower() for label in value))
    return Selection(valid=False)


def never_reason(model: type[Model]) -> str | None:
    """Return why no selection can ever take ``model``, or None if one can."""
    opts = model._meta
    if opts.app_label in _OWN_APP_LABELS or model.__module__.split(".")[0] == "rowsync":
        return "it is one of rowsync's own models"
    if opts.db_table == "django_migrations":
        return "it is Django's migration history"
    if opts.abstract or opts.swapped:
        return "it has no table"
    return None


def wide_reason(model: type[Model], *, tables_only: bool = True) -> str | None:
    """Return why ``"__all__"`` and app labels leave ``model`` out, or None if they take it.

    Args:
        model: Any model class.
        tables_only: Also leave out unmanaged models and proxies (no table of their own).
    """
    reason = never_reason(model)
    if reason is not None or not tables_only:
        return reason
    opts = model._meta
    if not opts.managed:
        return "it is unmanaged"
    if opts.proxy:
        return "it is a proxy, which has no table of its own"
    return None


def selects(
    selection: object, model: type[Model], exclude: object = (), *, tables_only: bool = True
) -> bool:
    """Return whether ``selection`` takes ``model``, directly or by ``"__all__"``/app label.

    Args:
        selection: The value of a model-selection setting.
        model: The model to match.
        exclude: The value of the matching ``…_EXCLUDE`` setting.
        tables_only: See :func:`wide_reason`.
    """
    if never_reason(model) is not None:
        return False
    parsed = parse(selection)
    opts = model._meta
    if opts.label_lower in parsed.labels:
        return True
    if not (parsed.everything or opts.app_label.lower() in parsed.labels):
        return False
    if wide_reason(model, tables_only=tables_only) is not None:
        return False
    excluded = parse(exclude).labels
    return not (opts.app_label.lower() in excluded or opts.label_lower in excluded)


def resolve(label: str) -> type[Model] | str | None:
    """Return the model an ``"app.Model"`` label names, the app label it names, or None."""
    try:
        if "." in label:
            app_label, model_name = label.split(".", 1)
            return apps.get_app_config(app_label).get_model(model_name)
        return apps.get_app_config(label).label
    except LookupError:
        return None


def suggest(label: str, *, allow_all: bool = True) -> str | None:
    """Return the installed app or model label closest to ``label`` (difflib), if any."""
    candidates: dict[str, str] = {ALL: ALL} if allow_all else {}
    for config in apps.get_app_configs():
        candidates[config.label.lower()] = config.label
        for model in config.get_models():
            candidates[model._meta.label_lower] = model._meta.label
    close = difflib.get_close_matches(label.lower(), list(candidates), n=1, cutoff=0.75)
    return candidates[close[0]] if close else None


def unknown_label_hint(label: str) -> str:
    """Return the hint for a label that names no installed app or model."""
    if label == ALL:
        return 'Use "__all__" alone (a string), not inside a list.'
    close = suggest(label)
    suggestion = f" Did you mean {close!r}?" if close else ""
    return 'Use "app_label" or "app_label.ModelName" of an installed app.' + suggestion
