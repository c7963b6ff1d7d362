"""``makemigrations`` support: add or remove objects when the desired ones change.

The desired objects come from the registered contributors, run on the models of the
autodetector's ``to_state``; what earlier migrations installed comes from the
``rowsync_objects`` option of ``from_state``. A changed object (same name, other SQL)
is removed and installed again, so old migrations keep their frozen SQL.

The operations of a model go into its own app's migrations, unless that app is an
installed package (:mod:`rowsync.schema.placement`): then into the migrations of
``ROWSYNC_MIGRATIONS_APP``, naming the model's app, after the latest migration of that
app; without the setting they are left out (rowsync.E130 refuses the configuration).
"""

from __future__ import annotations

from typing import Any

from django.db.migrations.autodetector import (  # type: ignore[attr-defined]
    MigrationAutodetector,
    OperationDependency,
)
from django.db.models import Model

from rowsync.schema.objects import CompiledSQL
from rowsync.schema.operations import (
    OPTION,
    InstallDatabaseObject,
    RemoveDatabaseObject,
)
from rowsync.schema.placement import migrations_home
from rowsync.schema.registry import desired_objects


def _dependencies(model: type[Model]) -> list[OperationDependency]:
    """Return what an install must follow: the model, its relation fields, their targets."""
    opts = model._meta
    deps = [
        OperationDependency(opts.app_label, opts.model_name, None, OperationDependency.Type.CREATE)
    ]
    for field in opts.local_fields:
        remote = getattr(field.remote_field, "model", None)
        if remote is None or isinstance(remote, str):
            continue
        deps.append(
            OperationDependency(
                opts.app_label, opts.model_name, field.name, OperationDependency.Type.CREATE
            )
        )
        ropts = remote._meta
        deps.append(
            OperationDependency(
                ropts.app_label, ropts.model_name, None, OperationDependency.Type.CREATE
            )
        )
    return deps


class RowsyncAutodetectorMixin:
    """Mixin for ``MigrationAutodetector`` that emits rowsync's object operations."""

    from_state: Any
    to_state: Any

    def generate_altered_db_table(self) -> None:
        """Run Django's last generator, then rowsync's (so installs follow everything)."""
        super().generate_altered_db_table()  # type: ignore[misc]
        self.generate_rowsync_objects()

    def _rowsync_current(
        self, app_label: str, model_name: str
    ) -> dict[tuple[str, str], CompiledSQL]:
        model_state = self.from_state.models.get((app_label, model_name))
        if model_state is None:
            return {}
        return {o.key: o for o in model_state.options.get(OPTION, ())}

    def generate_rowsync_objects(self) -> None:
        """Add ``RemoveDatabaseObject``/``InstallDatabaseObject`` for every difference."""
        add_operation = self.add_operation  # type: ignore[attr-defined]
        new_apps = self.to_state.apps
        keys = set(self.from_state.models) | set(self.to_state.models)
        for app_label, model_name in sorted(keys):
            home = migrations_home(app_label)
            if home is None:
                continue  # an installed package's model: refused by rowsync.E130
            foreign = app_label if home != app_label else None
            current = self._rowsync_current(app_label, model_name)
            desired: dict[tuple[str, str], CompiledSQL] = {}
            model: type[Model] | None = None
            model_state = self.to_state.models.get((app_label, model_name))
            if model_state is not None:
                model = new_apps.get_model(app_label, model_name)
                desired = {o.key: o for o in desired_objects(model)}
            name = model_state.name if model_state is not None else model_name
            for key, obj in sorted(current.items(), reverse=True):
                if desired.get(key) != obj:
                    # Removals go first: before a RemoveField/DeleteModel drops what the
                    # object names (MariaDB keeps such triggers and then fails every DELETE).
                    add_operation(
                        home,
                        RemoveDatabaseObject(
                            model_name=self._state_name(app_label, model_name),
                            obj=obj,
                            app_label=foreign,
                        ),
                        dependencies=self._foreign_dependencies(foreign, model_name),
                        beginning=True,
                    )
            for key, obj in sorted(desired.items()):
                if current.get(key) != obj:
                    assert model is not None
                    add_operation(
                        home,
                        InstallDatabaseObject(model_name=name, obj=obj, app_label=foreign),
                        dependencies=_dependencies(model) + self._reference_dependencies(obj),
                    )

    def _foreign_dependencies(
        self, foreign: str | None, model_name: str
    ) -> list[OperationDependency]:
        """Return what a removal on another app's model must follow: that model (if alive)."""
        if foreign is None or (foreign, model_name) not in self.to_state.models:
            return []
        return [OperationDependency(foreign, model_name, None, OperationDependency.Type.CREATE)]

    def arrange_for_graph(self, changes: Any, graph: Any, migration_name: Any = None) -> Any:
        """Make a migration that holds another app's objects follow that app's latest one.

        Its objects' frozen SQL names that app's tables and columns as they are at its
        latest migration (the models of today), not as an earlier migration left them.
        """
        for migrations in changes.values():
            for migration in migrations:
                targets = {
                    op.app_label
                    for op in migration.operations
                    if isinstance(op, InstallDatabaseObject | RemoveDatabaseObject)
                    and op.app_label
                }
                for target in sorted(targets):
                    new = changes.get(target)
                    if new:
                        latest = (target, new[-1].name)
                    else:
                        leaves = graph.leaf_nodes(target)
                        latest = leaves[0] if leaves else (target, "__first__")
                    if latest not in migration.dependencies:
                        migration.dependencies.append(latest)
        return super().arrange_for_graph(  # type: ignore[misc]
            changes, graph, migration_name
        )

    def _reference_dependencies(self, obj: CompiledSQL) -> list[OperationDependency]:
        """Return CREATE dependencies on the models whose tables ``obj`` names.

        A trigger that writes into another app's table (capture triggers fill
        ``rowsync_deleted_row``) must be installed after that table exists.
        """
        wanted = set(obj.references)
        deps: list[OperationDependency] = []
        for model in self.to_state.apps.get_models():
            opts = model._meta
            if opts.db_table in wanted:
                deps.append(
                    OperationDependency(
                        opts.app_label, opts.model_name, None, OperationDependency.Type.CREATE
                    )
                )
        return deps

    def _state_name(self, app_label: str, model_name: str) -> str:
        model_state = self.from_state.models.get((app_label, model_name))
        return str(model_state.name) if model_state is not None else model_name


def autodetector_class(base: type[MigrationAutodetector]) -> type[MigrationAutodetector]:
    """Return ``base`` with rowsync's generator mixed in (``base`` itself if already so)."""
    if issubclass(base, RowsyncAutodetectorMixin):
        return base
    # One class per base: makemigrations and migrate must share the very same class
    # (Django's check commands.E001 compares them).
    if base not in _WRAPPED:
        _WRAPPED[base] = type("RowsyncAutodetector", (RowsyncAutodetectorMixin, base), {})
    return _WRAPPED[base]


# {autodetector base class: its rowsync subclass}
_WRAPPED: dict[type[MigrationAutodetector], type[MigrationAutodetector]] = {}
