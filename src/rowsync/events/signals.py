"""Signals that only rowsync sends. Deleted rows get Django's own ``post_delete``."""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["post_db_update"]

post_db_update = Signal()
"""Sent for a row the database changed through an FK action (``SET NULL``/``SET DEFAULT``).

Keyword arguments: ``sender`` (the model), ``instance`` (rebuilt from the row as it is
after the change), ``using`` (database alias), ``origin`` (the object or queryset whose
delete caused it, or None) and ``changes`` (``{column: new value}`` of the FK columns).
Django itself sends no ``post_save`` for such rows, neither for its Python ``SET_NULL``
nor for ``DB_SET_NULL``.
"""
