"""Type aliases shared by rowsync's subsystems."""

from __future__ import annotations

from typing import TypeAlias

from django.db.models import Model

DbAlias: TypeAlias = str
#: ``(concrete model, primary-key tuple, database alias or None for single-db models)``
IdentityKey: TypeAlias = tuple[type[Model], tuple[object, ...], DbAlias | None]
