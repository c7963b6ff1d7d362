"""From a model's foreign keys to the frozen database objects that enforce them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import split_identifier
from django.db.models import Model

from rowsync.backends import BaseBackend, OnDeleteSpec
from rowsync.ondelete import actions as a
from rowsync.ondelete.plan import Behaviour, model_plan
from rowsync.schema import CompiledSQL, object_name

#: ``CompiledSQL.owner`` of the objects this module compiles.
OWNER = "ondelete"


def value_sql(value: object, backend: BaseBackend) -> str | None:
    """Return SQL for a SET/SET_DEFAULT value, or None when it cannot run in SQL."""
    return backend.set_value_sql(value)


def django_fk_name(field: Any, max_length: int) -> str:
    """Return the name Django gives the FK constraint of ``field``.

    Same algorithm as ``BaseDatabaseSchemaEditor._fk_constraint_name``, run without a
    connection so that ``makemigrations`` can freeze it.
    """
    target = field.target_field
    to_table = split_identifier(target.model._meta.db_table)[1]
    editor = SimpleNamespace(
        connection=SimpleNamespace(ops=SimpleNamespace(max_name_length=lambda: max_length))
    )
    create_index_name = BaseDatabaseSchemaEditor._create_index_name  # type: ignore[attr-defined]
    return cast(
        str,
        create_index_name(
            editor,
            field.model._meta.db_table,
            [field.column],
            suffix=f"_fk_{to_table}_{target.column}",
        ),
    )


def field_spec(field: Any, behaviour: Behaviour, backend: BaseBackend) -> OnDeleteSpec | None:
    """Return the vendor-neutral facts of one enforced foreign key (None: not in SQL)."""
    target = field.target_field
    table = field.model._meta.db_table
    sql_value = "NULL"
    if behaviour.operation in (a.SET, a.SET_DEFAULT):
        rendered = value_sql(behaviour.value, backend) if behaviour.supported else None
        if rendered is None:
            return None
        sql_value = rendered
    return OnDeleteSpec(
        name=object_name("od", table, field.column),
        table=table,
        column=field.column,
        pk_column=field.model._meta.pk.column,
        ref_table=target.model._meta.db_table,
        ref_column=target.column,
        operation=behaviour.operation,
        value_sql=sql_value,
        label=f"{field.model._meta.label}.{field.name}",
        django_fk_name=django_fk_name(field, backend.django_max_name_length),
        db_constraint=bool(field.db_constraint),
    )


def compile_field(field: Any, behaviour: Behaviour, backend: BaseBackend) -> CompiledSQL | None:
    """Return the object that makes ``backend``'s engine enforce ``field`` (or None)."""
    if not behaviour.rowsync_compiles or not behaviour.supported or not field.db_constraint:
        # Django emits its own DB_* SQL; unsupported values and db_constraint=False are
        # refused by system checks (rowsync.E033, rowsync.E034).
        return None
    spec = field_spec(field, behaviour, backend)
    if spec is None:
        return None
    if (
        spec.self_referencing
        and spec.operation in (a.SET, a.SET_DEFAULT)
        and not backend.trigger_may_modify_own_table
    ):
        return None  # refused by rowsync.E037
    compiled = backend.on_delete_sql(spec)
    if compiled is None:
        return None
    kind, install, uninstall = compiled
    on_table = spec.ref_table if kind == "trigger" else spec.table
    other = spec.table if on_table == spec.ref_table else spec.ref_table
    return CompiledSQL(
        name=spec.name,
        vendor=backend.vendor,
        table=on_table,
        install_sql=tuple(install),
        uninstall_sql=tuple(uninstall),
        owner=OWNER,
        kind=kind,
        references=() if other == on_table else (other,),
    )


def compile_model(model: type[Model], backend: BaseBackend) -> list[CompiledSQL]:
    """Contributor: the on_delete objects of ``model``'s foreign keys.

    The foreign keys of ``model``'s auto-created M2M through tables count as its own:
    migrations know those tables only through the M2M field.
    """
    plan = model_plan(model)
    owners: list[type[Model]] = [model]
    for m2m in model._meta.local_many_to_many:
        through = m2m.remote_field.through
        if through is not None and through._meta.auto_created:
            owners.append(through)
    objects: list[CompiledSQL] = []
    for owner in owners:
        for field, behaviour in plan.for_model(owner):
            obj = compile_field(field, behaviour, backend)
            if obj is not None:
                objects.append(obj)
    return objects
