"""Errors of the ondelete subsystem."""

from __future__ import annotations

from django.db import IntegrityError

from rowsync.exceptions import RowsyncError


class SetTargetMissing(RowsyncError, IntegrityError):
    """SET / SET_DEFAULT would point the foreign key at a row that does not exist.

    Raised when the row a ``DB_SET_DEFAULT``/``DB_SET(value)`` points at is the one being
    deleted (or is missing), instead of an ``IntegrityError`` at COMMIT.
    """
