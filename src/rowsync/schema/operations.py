"""Migration operations that install and remove frozen database objects.

The migration state keeps the objects of each model in the model option
``rowsync_objects`` (a list of :class:`CompiledSQL`), which is how the autodetector
knows what earlier migrations installed and how ``migrate`` re-creates objects that
a table rebuild dropped.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from rowsync.backends import vendor_of
from rowsync.schema.objects import CompiledSQL

#: The model option (``Meta``-level, state only) that lists a model's objects.
OPTION = "rowsync_objects"


def state_objects(state: ProjectState, app_label: str, model_name: str) -> list[CompiledSQL]:
    """Return the objects the migration ``state`` records for a model."""
    model_state = state.models[app_label, model_name.lower()]
    return list(model_state.options.get(OPTION, ()))


def _set_state_objects(
    state: ProjectState, app_label: str, model_name: str, objects: list[CompiledSQL]
) -> None:
    objects = sorted(objects, key=lambda o: (o.vendor, o.name))
    if objects:
        state.alter_model_options(app_label, model_name.lower(), {OPTION: objects})
    else:
        state.alter_model_options(app_label, model_name.lower(), {}, option_keys=[OPTION])


def run_statements(schema_editor: BaseDatabaseSchemaEditor, statements: tuple[str, ...]) -> None:
    """Execute ``statements`` one by one (``sqlmigrate`` collects them instead).

    Django defers foreign key constraints to the end of the migration
    (``schema_editor.deferred_sql``); an object that replaces or names such a
    constraint (MySQL) needs them to exist first, so pending statements run now.
    """
    pending = list(schema_editor.deferred_sql)
    schema_editor.deferred_sql.clear()
    for sql in pending:
        schema_editor.execute(sql)
    for sql in statements:
        # params=None: no placeholder interpolation, so '%' in trigger bodies is safe.
        schema_editor.execute(sql, params=None)


def nothing_to_uninstall(connection: BaseDatabaseWrapper, obj: CompiledSQL) -> bool:
    """Return whether ``obj`` is a table that is gone.

    Uninstall statements must tolerate absence; a table's (they read the table first,
    to keep its rows) cannot on every engine, so a missing table is skipped instead.
    """
    return obj.kind == "table" and obj.name not in connection.introspection.table_names()


class ObjectOperation(Operation):
    reversible = True
    reduces_to_sql = True
    install: bool = True

    def __init__(self, model_name: str, obj: CompiledSQL, app_label: str | None = None) -> None:
        # A migration file holds rowsync objects: Django's migration machinery must
        # accept them even when the settings switch every subsystem off now.
        from rowsync.schema.hooks import prepare_migrations

        prepare_migrations()
        self.model_name = model_name
        self.obj = obj
        self.app_label = app_label

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"model_name": self.model_name, "obj": self.obj}
        if self.app_label is not None:
            kwargs["app_label"] = self.app_label
        return (self.__class__.__name__, [], kwargs)

    def _target(self, app_label: str) -> str:
        """Return the app of the model: its own ``app_label``, else the migration's app."""
        return self.app_label or app_label

    def _add(self, state: ProjectState, app_label: str) -> None:
        app_label = self._target(app_label)
        objects = [
            o for o in state_objects(state, app_label, self.model_name) if o.key != self.obj.key
        ]
        _set_state_objects(state, app_label, self.model_name, [*objects, self.obj])

    def _remove(self, state: ProjectState, app_label: str) -> None:
        app_label = self._target(app_label)
        objects = [
            o for o in state_objects(state, app_label, self.model_name) if o.key != self.obj.key
        ]
        _set_state_objects(state, app_label, self.model_name, objects)

    def _applies(
        self, schema_editor: BaseDatabaseSchemaEditor, app_label: str, state: ProjectState
    ) -> bool:
        if vendor_of(schema_editor.connection) != self.obj.vendor:
            return False
        model = state.apps.get_model(self._target(app_label), self.model_name)
        return self.allow_migrate_model(schema_editor.connection.alias, model)

    def _run(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        app_label: str,
        state: ProjectState,
        install: bool,
    ) -> None:
        if self._applies(schema_editor, app_label, state):
            if (
                not install
                and not getattr(schema_editor, "collect_sql", False)
                and nothing_to_uninstall(schema_editor.connection, self.obj)
            ):
                return
            run_statements(
                schema_editor, self.obj.install_sql if install else self.obj.uninstall_sql
            )

    def references_model(self, name: str, app_label: str) -> bool:
        if self.app_label is not None and app_label != self.app_label:
            return False
        return name.lower() == self.model_name_lower

    def _on(self) -> str:
        return f" on {self.app_label}.{self.model_name_lower}" if self.app_label else ""

    def _fragment(self, prefix: str) -> str:
        app = f"{self.app_label}_" if self.app_label else ""
        return f"{prefix}{app}{self.model_name_lower}"


class InstallDatabaseObject(ObjectOperation):
    """Install a frozen database object (trigger, constraint) on a model's table.

    Args:
        model_name: The model that owns the object.
        obj: The frozen SQL, for one engine; other engines skip the operation.
        app_label: The model's app when it is not the migration's own: the objects of
            installed packages' models live in the migrations of ``ROWSYNC_MIGRATIONS_APP``
            and name their model's app here (the SQL is frozen, so it needs nothing else).
    """

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        self._add(state, app_label)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(schema_editor, app_label, to_state, install=True)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(schema_editor, app_label, from_state, install=False)

    def describe(self) -> str:
        obj = self.obj
        return f"Install {obj.owner} {obj.kind} {obj.name}{self._on()} ({obj.vendor})"

    @property
    def migration_name_fragment(self) -> str:
        return self._fragment("rowsync_")


class RemoveDatabaseObject(ObjectOperation):
    """Remove a frozen database object; reversing it installs the same frozen SQL again.

    Args:
        model_name: The model that owns the object.
        obj: The object as an earlier migration installed it.
        app_label: The model's app when it is not the migration's own (see
            :class:`InstallDatabaseObject`).
    """

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        self._remove(state, app_label)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(schema_editor, app_label, from_state, install=False)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._run(schema_editor, app_label, to_state, install=True)

    def describe(self) -> str:
        obj = self.obj
        return f"Remove {obj.owner} {obj.kind} {obj.name}{self._on()} ({obj.vendor})"

    @property
    def migration_name_fragment(self) -> str:
        return self._fragment("rowsync_remove_")
