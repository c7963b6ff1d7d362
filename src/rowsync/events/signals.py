"""Signals that only rowsync sends. Deleted rows get Django's own ``post_delete``."""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["post_db_update", "post_delete_batch"]

post_db_update = Signal()
"""Sent for a row the database changed through an FK action (``SET NULL``/``SET DEFAULT``).

Keyword arguments: ``sender`` (the model), ``instance`` (rebuilt from the row as it is
after the change), ``using`` (database alias), ``origin`` (the object or queryset whose
delete caused it, or None) and ``changes`` (``{column: new value}`` of the FK columns).
Django itself sends no ``post_save`` for such rows, neither for its Python ``SET_NULL``
nor for ``DB_SET_NULL``.
"""

post_delete_batch = Signal()
"""Sent for rows the database deleted, once per model and delivery batch (a batch receiver).

Keyword arguments: ``sender`` (the model), ``instances`` (the rebuilt instances, in event
order, each as ``post_delete`` would get it), ``using`` (database alias) and ``origin``
(as for ``post_delete``; None in the worker). A receiver connected here runs where a
``post_delete`` receiver of the same model and delivery mode would, inside the same
transaction, once for all the instances of one batch instead of once per instance
(:mod:`rowsync.events.batch`). When the worker retries a failed batch one event at a
time, it is called with one instance inside that event's savepoint. Rows Django's own
collector deletes are not sent here (Django sends them ``post_delete``).
"""
