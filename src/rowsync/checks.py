"""System checks. Ids are ``rowsync.E0xx`` (errors) and ``rowsync.W0xx`` (warnings).

Ids never change meaning. Ranges: E001-E029 identity map, E030-E059 database
on_delete, E060-E089 events and capture, E090-E099 general, E100-E129/W100-W129
settings (W110-W114: relations ``ROWSYNC_DB_ON_DELETE`` leaves to Python, from
:mod:`rowsync.ondelete.checks`), E130-E149 where objects are migrated
(``rowsync.schema.checks``). Subsystems register their own checks from their
``checks`` modules; this module holds the general ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import connections

from rowsync import conf, selection
from rowsync.backends import is_supported, vendor_of
from rowsync.selection import unknown_label_hint

# {setting name: conf reader}: numeric settings that must be positive.
_POSITIVE_NUMBERS: dict[str, Callable[[], object]] = {
    "ROWSYNC_WORKER_BATCH_SIZE": conf.worker_batch_size,
    "ROWSYNC_WORKER_POLL_INTERVAL": conf.worker_poll_interval,
    "ROWSYNC_WORKER_MAX_ATTEMPTS": conf.worker_max_attempts,
    "ROWSYNC_WORKER_RETRY_DELAY": conf.worker_retry_delay,
    "ROWSYNC_WORKER_HEARTBEAT": conf.worker_heartbeat,
    "ROWSYNC_DELIVERY_BATCH_SIZE": conf.delivery_batch_size,
    "ROWSYNC_DELIVERY_LEASE": conf.delivery_lease,
}


def setup() -> None:
    """Register the general checks (Django ignores a second registration)."""
    checks.register(check_database_vendors, checks.Tags.database)
    checks.register(check_numeric_settings)
    checks.register(check_selection_settings)
    checks.register(check_setting_names)


def _positive(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_positive(v) for v in value)
    return isinstance(value, int | float) and value > 0


def check_numeric_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """rowsync.E091: a numeric ``ROWSYNC_*`` setting is not a positive number."""
    errors: list[checks.CheckMessage] = []
    for name, reader in _POSITIVE_NUMBERS.items():
        try:
            ok = _positive(reader())
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append(
                checks.Error(
                    f"{name} must be a positive number.",
                    hint=f"Remove {name} to use the default, or set a number above zero "
                    "(ROWSYNC_WORKER_RETRY_DELAY takes one number or a pair).",
                    obj=name,
                    id="rowsync.E091",
                )
            )
    return errors


def check_database_vendors(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """rowsync.E090: a checked database has a vendor rowsync does not support."""
    errors: list[checks.CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if not is_supported(connection):
            errors.append(
                checks.Error(
                    f"Database {alias!r} uses vendor {vendor_of(connection)!r}, "
                    "which rowsync does not support.",
                    hint="rowsync supports SQLite, PostgreSQL and MariaDB/MySQL.",
                    id="rowsync.E090",
                )
            )
    return errors


# {selection setting: (reader, id for a wrong shape, whether it is about tables)}
# ROWSYNC_IDENTITY_MAP's shape and labels are checked with the identity map (E004-E006).
_SELECTIONS: dict[str, tuple[Callable[[], object], str, bool]] = {
    "ROWSYNC_IDENTITY_MAP": (conf.identity_map_selection, "rowsync.E005", False),
    "ROWSYNC_DB_ON_DELETE": (conf.db_on_delete_selection, "rowsync.E100", True),
    "ROWSYNC_CAPTURE": (conf.capture_selection, "rowsync.E064", True),
}
# {exclusion setting: (reader, the selection it narrows)}
_EXCLUSIONS: dict[str, tuple[Callable[[], object], str]] = {
    "ROWSYNC_IDENTITY_MAP_EXCLUDE": (conf.identity_map_exclude, "ROWSYNC_IDENTITY_MAP"),
    "ROWSYNC_DB_ON_DELETE_EXCLUDE": (conf.db_on_delete_exclude, "ROWSYNC_DB_ON_DELETE"),
    "ROWSYNC_CAPTURE_EXCLUDE": (conf.capture_exclude, "ROWSYNC_CAPTURE"),
}
_SWITCHES = ("ROWSYNC_AUTODETECTOR", "ROWSYNC_DB_ON_DELETE_COUNTS", "ROWSYNC_ADMIN")
_LABELS_HINT = 'Use "__all__" or a list of "app_label" / "app_label.ModelName" labels.'


def _message(
    kind: type[checks.Error] | type[checks.Warning], name: str, msg: str, hint: str, id: str
) -> checks.CheckMessage:
    """Return a check message about the setting ``name``."""
    return kind(msg, hint=hint, obj=name, id=id)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the choice closest to ``word``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" Did you mean {close[0]!r}?" if close else ""


def _labels(name: str, value: object, wrong_id: str) -> list[str] | checks.CheckMessage:
    """Return the labels of a selection value, or the error for its shape."""
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(label, str) and label for label in value
    ):
        return list(value)
    return _message(
        checks.Error,
        name,
        f"{name} must be '__all__' or a list of labels, not {value!r}.",
        _LABELS_HINT + " rowsync treats this value as empty until it is fixed.",
        wrong_id,
    )


def _not_selectable(model: Any, tables: bool) -> str | None:
    if tables:
        return selection.wide_reason(model)
    return selection.never_reason(model)


def _check_labels(name: str, labels: list[str], tables: bool) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for label in labels:
        if label == selection.ALL and len(labels) == 1:
            continue
        found = selection.resolve(label)
        if found is None:
            if name != "ROWSYNC_IDENTITY_MAP":  # E006 reports those
                messages.append(
                    _message(
                        checks.Error,
                        name,
                        f"{name} names {label!r}, which is no installed app or model.",
                        unknown_label_hint(label),
                        "rowsync.E101",
                    )
                )
            continue
        if name.endswith("_EXCLUDE"):
            continue
        if isinstance(found, str):
            reason = "it is rowsync's own app" if found == "rowsync" else None
        else:
            reason = _not_selectable(found, tables)
        if reason is not None:
            messages.append(
                _message(
                    checks.Error,
                    name,
                    f"{name} names {label!r}, which rowsync cannot select: {reason}.",
                    f"Remove {label!r} from {name}.",
                    "rowsync.E102",
                )
            )
    return messages


def _check_exclusion(name: str, labels: list[str], narrowed: str) -> list[checks.CheckMessage]:
    """rowsync.W103: an exclusion label the selection it narrows would not take anyway."""
    parsed = selection.parse(_SELECTIONS[narrowed][0]())
    messages: list[checks.CheckMessage] = []
    for label in labels:
        low = label.lower()
        app_label = low.split(".", 1)[0]
        wide = parsed.everything or app_label in parsed.labels
        found = selection.resolve(label)
        never = found == "rowsync" or (
            not isinstance(found, str) and found is not None and selection.never_reason(found)
        )
        if found is None or (wide and low not in parsed.labels and not never):
            continue
        messages.append(
            _message(
                checks.Warning,
                name,
                f"{name} lists {label!r}, which {narrowed} does not select by '__all__' "
                "or an app label: the exclusion has no effect.",
                f"Remove {label!r} from {name} (a model named in {narrowed} by its "
                "own label stays selected).",
                "rowsync.W103",
            )
        )
    return messages


def check_selection_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Check the model selections, their exclusions and the switches.

    * rowsync.E064 / E005 / E100: a selection or exclusion has the wrong type or shape.
    * rowsync.E101: it names an unknown app or model (with a "did you mean" hint).
    * rowsync.E102: it names a model (or app) rowsync never selects.
    * rowsync.W103: an exclusion has no effect.
    * rowsync.E105: a switch (``ROWSYNC_AUTODETECTOR``, ``ROWSYNC_DB_ON_DELETE_COUNTS``,
      ``ROWSYNC_ADMIN``) is no bool.
    """
    messages: list[checks.CheckMessage] = []
    invalid: set[str] = set()  # selections reported as wrong: their exclusions say nothing
    for name, (reader, wrong_id, tables) in _SELECTIONS.items():
        labels = _labels(name, reader(), wrong_id)
        if isinstance(labels, list):
            messages.extend(_check_labels(name, labels, tables))
            continue
        invalid.add(name)
        if name != "ROWSYNC_IDENTITY_MAP":  # E005 reports it
            messages.append(labels)
    for name, (reader, narrowed) in _EXCLUSIONS.items():
        value = reader()
        labels = (
            _labels(name, value, "rowsync.E100")
            if value != selection.ALL
            else _message(
                checks.Error,
                name,
                f"{name} cannot be '__all__'.",
                f"List the apps or models to leave out, or empty {narrowed}.",
                "rowsync.E100",
            )
        )
        if not isinstance(labels, list):
            messages.append(labels)
            continue
        messages.extend(_check_labels(name, labels, True))
        if narrowed not in invalid:
            messages.extend(_check_exclusion(name, labels, narrowed))
    for name in _SWITCHES:
        if conf.is_set(name) and not isinstance(conf.given(name), bool):
            messages.append(
                _message(
                    checks.Error,
                    name,
                    f"{name} must be True or False, not {conf.given(name)!r}.",
                    f"Set {name} = True or False, or remove it to use the default.",
                    "rowsync.E105",
                )
            )
    return messages


def check_setting_names(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """rowsync.W106: the project sets a ``ROWSYNC_*`` setting rowsync does not know."""
    known = sorted(conf.known_settings())
    return [
        _message(
            checks.Warning,
            name,
            f"{name} is not a rowsync setting; rowsync ignores it.",
            (did_you_mean(name, known).strip() or "See docs/settings.md for the list.")
            + " Silence rowsync.W106 if another package reads it.",
            "rowsync.W106",
        )
        for name in conf.project_settings()
        if name not in known
    ]
