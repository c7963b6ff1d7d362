"""Where rowsync's guards of its database objects go: the engines that need them, only.

Django's flush and SQLite's table rebuild are guarded per engine, in the engine's own
classes: Django's base classes, shared by every engine, stay Django's.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.backends.base.introspection import BaseDatabaseIntrospection
from django.db.backends.base.operations import BaseDatabaseOperations

from rowsync import _patch
from rowsync.backends import get_backend


def test_django_base_classes_stay_djangos():
    for function in (
        BaseDatabaseIntrospection.django_table_names,
        BaseDatabaseOperations.execute_sql_flush,
    ):
        assert function.__module__.startswith("django.db.backends.base.")
        assert _patch.record_of(function) is None


def test_flush_empties_inboxes_only_where_there_are_inboxes():
    # The test settings capture models, so events.setup() ran include_in_flush().
    own = vars(type(connection.introspection)).get("django_table_names")
    wrapped = own is not None and _patch.record_of(own) is not None
    assert wrapped == get_backend(connection).capture_inbox


@pytest.mark.requires("table_rebuilds_drop_objects")
def test_rebuild_guard_is_a_subclass_of_the_engines_editor():
    from django.db.backends.sqlite3.base import DatabaseWrapper
    from django.db.backends.sqlite3.schema import DatabaseSchemaEditor

    from rowsync.backends.sqlite.schema import RebuildGuard

    class Wrapper(DatabaseWrapper):
        SchemaEditorClass = DatabaseSchemaEditor  # Django's, as a fresh project has it

    wrapper = Wrapper(dict(connection.settings_dict), alias="rowsync_guard_probe")
    backend = get_backend(wrapper)
    backend.guard_rebuilds()
    editor = Wrapper.SchemaEditorClass
    assert issubclass(editor, RebuildGuard) and issubclass(editor, DatabaseSchemaEditor)
    assert editor.__mro__[1] is RebuildGuard
    assert _patch.record_of(editor) is not None  # listed by rowsync.patches_applied()
    backend.guard_rebuilds()
    assert Wrapper.SchemaEditorClass is editor  # idempotent
    assert "_remake_table" not in vars(DatabaseSchemaEditor) or (
        _patch.record_of(DatabaseSchemaEditor._remake_table) is None
    )


@pytest.mark.requires("table_rebuilds_drop_objects")
@pytest.mark.django_db(transaction=True)
def test_flush_takes_out_only_the_triggers_that_could_fire():
    # SQLite triggers fire per row: a table without rows fires none, so its triggers
    # stay (re-creating every trigger made each TransactionTestCase flush cost DDL for
    # the whole schema).
    from django.core.management.color import no_style
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rowsync.backends.sqlite.schema import TRIGGERS_SQL
    from rowsync.models import DeletedRow
    from tests.evapp.models import Author, Book

    Author.objects.create(name="kept")
    with connection.cursor() as cursor:
        cursor.execute(TRIGGERS_SQL)
        before = {(name, table) for name, table, _sql in cursor.fetchall()}
    assert any(table == Author._meta.db_table for _n, table in before)
    assert any(table == Book._meta.db_table for _n, table in before)
    tables = connection.introspection.django_table_names(only_existing=True)
    sql_list = connection.ops.sql_flush(no_style(), tables, allow_cascade=False)
    with CaptureQueriesContext(connection) as ctx:
        connection.ops.execute_sql_flush(sql_list)
    dropped = {q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DROP TRIGGER")}
    author = {name for name, table in before if table == Author._meta.db_table}
    assert dropped and all(any(name in sql for name in author) for sql in dropped)
    with connection.cursor() as cursor:
        cursor.execute(TRIGGERS_SQL)
        assert {(name, table) for name, table, _sql in cursor.fetchall()} == before
    assert not Author.objects.exists() and not DeletedRow.objects.exists()
