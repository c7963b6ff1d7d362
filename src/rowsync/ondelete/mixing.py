"""Django 6.1's "no mixing" check (fields.E323) and rowsync's ``DB_*`` values.

Django refuses a chain of foreign keys that mixes its database-level values
(``models.DB_CASCADE``...) with Python-level ones, and it counts rowsync's values as
Python-level (they are not ``DatabaseOnDelete``). rowsync's values mix with both:
below or above Django's values the database does the whole chain (Django's
``ON DELETE`` clause, rowsync's constraint or trigger), and below or above Python's the
chain rules of :mod:`rowsync.ondelete.plan` apply. So E323 is kept only when Django's
own values conflict with each other, as Django defines it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models.fields.related import ForeignKey

from rowsync import _patch
from rowsync.ondelete import actions as a

E323 = "fields.E323"


def conflicts(field: Any) -> bool:
    """Return whether ``field`` breaks Django's E323 rule with rowsync's values left out."""
    on_delete = field.remote_field.on_delete
    target = field.remote_field.model
    if isinstance(target, str) or on_delete is models.DO_NOTHING:
        return False
    if isinstance(on_delete, a.DatabaseAction):
        return False
    is_db = a.is_django_db_action(on_delete)
    for other in target._meta.get_fields():
        remote = other.remote_field if other.related_model else None
        value = getattr(remote, "on_delete", None)
        if value is None or value is models.DO_NOTHING or isinstance(value, a.DatabaseAction):
            continue
        if a.is_django_db_action(value) is not is_db:
            return True
    return False


def _wrap(original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    @functools.wraps(original)
    def _check_on_delete(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
        errors = original(self, *args, **kwargs)
        if any(e.id == E323 for e in errors) and not conflicts(self):
            errors = [e for e in errors if e.id != E323]
        return errors

    return _check_on_delete


def patch_check() -> None:
    """Let rowsync's values mix with Django 6.1's in E323 (idempotent; no-op before 6.1)."""
    if a.django_database_on_delete() is None:
        return
    _patch.apply(ForeignKey, "_check_on_delete", _wrap, feature="ondelete")
