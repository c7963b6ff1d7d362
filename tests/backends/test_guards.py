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
