"""django-rowsync: keep Django objects and database rows in step.

The public API is ``__all__``; everything else may change between releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rowsync._patch import patches_applied
from rowsync.events import receiver_delivery
from rowsync.exceptions import RowsyncError
from rowsync.identity import (
    current_map,
    discard_row,
    flush,
    identity_scope,
    populate_existing,
    update_row,
)
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
    "IdentityManager",
    "IdentityModel",
    "IdentityModelBase",
    "RowsyncError",
    "__version__",
    "current_map",
    "discard_row",
    "flush",
    "identity_scope",
    "patches_applied",
    "populate_existing",
    "receiver_delivery",
    "update_row",
]

if TYPE_CHECKING:  # the real classes for type checkers; at run time they load lazily
    from rowsync.identity.models import IdentityManager, IdentityModel, IdentityModelBase

# Model classes need the app registry: they are imported on first access.
_LAZY_IDENTITY = ("IdentityManager", "IdentityModel", "IdentityModelBase")


def __getattr__(name: str) -> Any:
    if name in _LAZY_IDENTITY:
        from rowsync.identity import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0.dev0"
