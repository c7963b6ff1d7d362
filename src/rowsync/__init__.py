"""django-rowsync: keep Django objects and database rows in step.

The public API is ``__all__``; everything else may change between releases.
"""

from __future__ import annotations

from rowsync.exceptions import RowsyncError
from rowsync.ondelete.actions import (
    DB_CASCADE,
    DB_DO_NOTHING,
    DB_PROTECT,
    DB_RESTRICT,
    DB_SET,
    DB_SET_DEFAULT,
    DB_SET_NULL,
)

__all__ = [
    "DB_CASCADE",
    "DB_DO_NOTHING",
    "DB_PROTECT",
    "DB_RESTRICT",
    "DB_SET",
    "DB_SET_DEFAULT",
    "DB_SET_NULL",
    "RowsyncError",
    "__version__",
]

__version__ = "0.1.0.dev0"
