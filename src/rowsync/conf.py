"""Settings, read only through the functions of this module.

Each ``ROWSYNC_*`` setting has one function here that returns its value with the
default applied, so the rest of the package never reads ``django.conf.settings``.
"""

from __future__ import annotations

import re
import sys

from django.conf import settings

# Each reader's docstring starts with the setting it reads.
_READER_DOC = re.compile(r"Return ``(ROWSYNC_[A-Z0-9_]+)``")


def given(name: str) -> object:
    """Return the value of setting ``name`` exactly as the project gives it (None if unset).

    For the system checks, which report values that the readers below coerce or ignore.
    """
    value: object = getattr(settings, name, None)
    return value


def is_set(name: str) -> bool:
    """Return whether the project sets ``name``."""
    return hasattr(settings, name)


def known_settings() -> frozenset[str]:
    """Return the name of every ``ROWSYNC_*`` setting, taken from the readers' docstrings."""
    names: set[str] = set()
    for reader in vars(sys.modules[__name__]).values():
        if callable(reader) and getattr(reader, "__module__", None) == __name__:
            found = _READER_DOC.match(getattr(reader, "__doc__", None) or "")
            if found:
                names.add(found.group(1))
    return frozenset(names)


def project_settings() -> list[str]:
    """Return the names of the ``ROWSYNC_*`` settings the project sets."""
    return sorted(name for name in dir(settings) if name.startswith("ROWSYNC_"))


def _model_selection(name: str) -> object:
    # Returned as given: rowsync.selection.parse() treats a bad shape as "nothing" and the
    # system checks report it, so no value can break start-up.
    value: object = getattr(settings, name, ())
    return value


def identity_map_selection() -> object:
    """Return ``ROWSYNC_IDENTITY_MAP``: ``"__all__"`` or ``"app_label"``/``"app.Model"`` labels."""
    return _model_selection("ROWSYNC_IDENTITY_MAP")


def identity_map_exclude() -> object:
    """Return ``ROWSYNC_IDENTITY_MAP_EXCLUDE``: labels left out of ``"__all__"``/app labels."""
    return _model_selection("ROWSYNC_IDENTITY_MAP_EXCLUDE")


def identity_map_options() -> object:
    """Return ``ROWSYNC_IDENTITY_MAP_OPTIONS``: ``{"app.Model": {"use_strong_refs": True}}``.

    The ``Meta`` options of base-class models, for models the setting enables
    (``use_strong_refs``, ``multi_db``, ``shared_identity``). Checked by rowsync.E009.
    """
    return getattr(settings, "ROWSYNC_IDENTITY_MAP_OPTIONS", {})


def identity_map_max_strong() -> object:
    """Return ``ROWSYNC_IDENTITY_MAP_MAX_STRONG``: strong entries per model and map (None).

    Past the bound the oldest entries become weak references. None: unbounded.
    """
    return getattr(settings, "ROWSYNC_IDENTITY_MAP_MAX_STRONG", None)


def db_on_delete_selection() -> object:
    """Return ``ROWSYNC_DB_ON_DELETE``: models whose ``on_delete`` the database enforces."""
    return _model_selection("ROWSYNC_DB_ON_DELETE")


def db_on_delete_exclude() -> object:
    """Return ``ROWSYNC_DB_ON_DELETE_EXCLUDE``: labels left out of ``"__all__"``/app labels."""
    return _model_selection("ROWSYNC_DB_ON_DELETE_EXCLUDE")


def capture_selection() -> object:
    """Return ``ROWSYNC_CAPTURE``: models whose deleted rows the database records."""
    return _model_selection("ROWSYNC_CAPTURE")


def capture_exclude() -> object:
    """Return ``ROWSYNC_CAPTURE_EXCLUDE``: labels left out of ``"__all__"``/app labels."""
    return _model_selection("ROWSYNC_CAPTURE_EXCLUDE")


# --- worker ---


def worker_batch_size() -> int:
    """Return ``ROWSYNC_WORKER_BATCH_SIZE``: events one worker claims per transaction (2000)."""
    return int(getattr(settings, "ROWSYNC_WORKER_BATCH_SIZE", 2000))


def worker_poll_interval() -> float:
    """Return ``ROWSYNC_WORKER_POLL_INTERVAL``: seconds between polls when idle (1.0).

    On PostgreSQL the worker also wakes up at once on ``NOTIFY``; the poll is the fallback.
    """
    return float(getattr(settings, "ROWSYNC_WORKER_POLL_INTERVAL", 1.0))


def worker_max_attempts() -> int:
    """Return ``ROWSYNC_WORKER_MAX_ATTEMPTS``: failed deliveries before a dead letter (5)."""
    return int(getattr(settings, "ROWSYNC_WORKER_MAX_ATTEMPTS", 5))


def worker_retry_delay() -> tuple[float, float]:
    """Return ``ROWSYNC_WORKER_RETRY_DELAY``: ``(first, longest)`` back-off in seconds.

    The delay doubles after each failure, from ``first`` up to ``longest``
    (default ``(5.0, 3600.0)``). A single number sets ``first`` only.
    """
    value = getattr(settings, "ROWSYNC_WORKER_RETRY_DELAY", (5.0, 3600.0))
    if isinstance(value, int | float):
        return float(value), max(float(value), 3600.0)
    first, longest = value
    return float(first), float(longest)


def worker_heartbeat() -> float:
    """Return ``ROWSYNC_WORKER_HEARTBEAT``: seconds between a worker's heartbeats (10.0).

    A worker records its heartbeat (``rowsync.WorkerHeartbeat``) at most this often, busy
    or idle; ``manage.py rowsync status`` calls a worker stale after three missed ones.
    """
    return float(getattr(settings, "ROWSYNC_WORKER_HEARTBEAT", 10.0))


def schema_autodetector_enabled() -> bool:
    """Return ``ROWSYNC_AUTODETECTOR``: whether makemigrations emits rowsync's objects (True)."""
    return bool(getattr(settings, "ROWSYNC_AUTODETECTOR", True))


def migrations_app() -> object:
    """Return ``ROWSYNC_MIGRATIONS_APP``: the project app holding other packages' objects (None).

    rowsync's objects (on_delete constraints and triggers, capture triggers, inboxes) on
    models of installed packages (Django's contrib apps, third-party apps, rowsync itself)
    go into this app's migrations, since ``makemigrations`` must never write into an
    installed package. None: such objects are refused (rowsync.E130). Checked by E131-E133.
    """
    return getattr(settings, "ROWSYNC_MIGRATIONS_APP", None)


def uninstall_discard_events() -> bool:
    """Return ``ROWSYNC_UNINSTALL_DISCARD_EVENTS``: let ``migrate rowsync zero`` drop events.

    False (default): unapplying rowsync's first migration is refused while undelivered
    events (pending, dead letters, inbox rows) remain.
    """
    return bool(getattr(settings, "ROWSYNC_UNINSTALL_DISCARD_EVENTS", False))


def db_on_delete_counts() -> bool:
    """Return ``ROWSYNC_DB_ON_DELETE_COUNTS``: count database-removed rows in delete() (True).

    Counting costs one ``SELECT COUNT(*)`` per database-cascaded relation before the delete.
    """
    return bool(getattr(settings, "ROWSYNC_DB_ON_DELETE_COUNTS", True))


# --- capture ---


def delivery_mode() -> str:
    """Return ``ROWSYNC_DELIVERY``: ``"transaction"`` (default), ``"on_commit"`` or ``"worker"``.

    The default matches Django's own ``post_delete``, which is sent inside the
    transaction of the delete.
    """
    return str(getattr(settings, "ROWSYNC_DELIVERY", "transaction"))


def delivery_batch_size() -> int:
    """Return ``ROWSYNC_DELIVERY_BATCH_SIZE``: events read per batch in-process (1000)."""
    return int(getattr(settings, "ROWSYNC_DELIVERY_BATCH_SIZE", 1000))


def delivery_lease() -> int:
    """Return ``ROWSYNC_DELIVERY_LEASE``: seconds on-commit events stay reserved (300).

    A worker takes them over when the process dies between commit and delivery.
    """
    return int(getattr(settings, "ROWSYNC_DELIVERY_LEASE", 300))


# --- admin ---


def admin_enabled() -> bool:
    """Return ``ROWSYNC_ADMIN``: register the operator console in Django's admin (True).

    Read when ``django.contrib.admin`` autodiscovers ``rowsync.admin``; without the admin
    app installed nothing is registered whatever the value. Checked by rowsync.E105.
    """
    return bool(getattr(settings, "ROWSYNC_ADMIN", True))
