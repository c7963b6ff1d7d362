"""Exceptions raised by rowsync. Every one subclasses :class:`RowsyncError`."""

from __future__ import annotations


class RowsyncError(Exception):
    """Base class of every error rowsync raises."""


class ImproperlyConfiguredBackend(RowsyncError):
    """The database vendor behind a connection has no rowsync backend."""
