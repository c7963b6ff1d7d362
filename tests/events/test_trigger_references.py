"""What a capture trigger says it depends on: the capture session table only where it reads it.

``CompiledSQL.references`` orders migrations (a trigger is created after the models whose
tables it names) and tells SQLite which objects to re-create after a table rebuild. Only
PostgreSQL's triggers read the capture session from ``rowsync_capture_session``; SQLite's
write no claim and MariaDB's read user variables, so theirs must not name that table.
"""

from __future__ import annotations

import pytest

from rowsync.backends import VENDORS, offline_backend
from rowsync.events.triggers import capture_objects
from rowsync.schema import CompiledSQL
from tests.evapp.models import Book


@pytest.mark.parametrize("vendor", VENDORS)
def test_only_triggers_reading_the_session_table_depend_on_it(vendor: str) -> None:
    triggers = [o for o in capture_objects(Book, offline_backend(vendor)) if o.kind == "trigger"]
    assert triggers
    for trigger in triggers:
        sql = " ".join(trigger.install_sql)
        named = "rowsync_capture_session" in sql
        assert ("rowsync_capture_session" in trigger.references) is named


def test_references_are_not_part_of_the_object() -> None:
    """A change of references alone changes no SQL and so writes no migration."""

    def compiled(*references: str) -> CompiledSQL:
        return CompiledSQL("t", "sqlite", "a", ["x"], ["y"], references=references)

    old, new = compiled("a", "rowsync_capture_session"), compiled("a")
    assert old == new
    assert hash(old) == hash(new)
