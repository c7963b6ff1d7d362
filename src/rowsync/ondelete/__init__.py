"""The ondelete subsystem of rowsync: the database enforces ``on_delete``."""

from __future__ import annotations

from rowsync.ondelete.actions import (
    DB_CASCADE,
    DB_DO_NOTHING,
    DB_PROTECT,
    DB_RESTRICT,
    DB_SET,
    DB_SET_DEFAULT,
    DB_SET_NULL,
    DatabaseAction,
    DatabaseSet,
)
from rowsync.ondelete.errors import SetTargetMissing

__all__ = [
    "DB_CASCADE",
    "DB_DO_NOTHING",
    "DB_PROTECT",
    "DB_RESTRICT",
    "DB_SET",
    "DB_SET_DEFAULT",
    "DB_SET_NULL",
    "DatabaseAction",
    "DatabaseSet",
    "SetTargetMissing",
    "setup",
]


def setup() -> None:
    """Connect this subsystem's hooks, checks and signal handlers (idempotent)."""
    from django.core import checks as django_checks

    from rowsync import events, schema
    from rowsync.ondelete import checks, deletion
    from rowsync.ondelete.compile import OWNER, compile_model

    schema.setup()
    schema.register_contributor(OWNER, compile_model)
    # The events subsystem wraps Collector.delete as well. This wrapper must be the
    # outer one: its savepoint lets it explain a refusal after the inner ones failed.
    events.setup()
    deletion.patch_collector()
    django_checks.register(checks.check_models, django_checks.Tags.models)
    django_checks.register(checks.check_drift, django_checks.Tags.database)
