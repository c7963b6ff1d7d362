"""Compare what the database enforces with what the models ask for."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import connections, router

from rowsync.backends import is_supported, vendor_of
from rowsync.schema import CompiledSQL, desired_objects, installed_objects

#: Name prefixes of objects reported when no model wants them. Only objects whose
#: subsystem derives them purely from the models belong here.
UNEXPECTED_PREFIXES: tuple[str, ...] = ("rowsync_od_",)


@dataclass(frozen=True)
class Difference:
    """One difference between the models and a database.

    Attributes:
        alias: The database alias.
        problem: ``missing`` (the models want it, the database lacks it) or
            ``unexpected`` (the database has a rowsync object no model wants).
        name: The object name.
        table: The table it belongs to.
        detail: Who wants it (``app.Model``) and what it is.
    """

    alias: str
    problem: str
    name: str
    table: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.alias}] {self.problem}: {self.name} on {self.table} ({self.detail})"


def expected_on(alias: str) -> dict[str, tuple[str, CompiledSQL]]:
    """Return ``{name: (model label, object)}`` the models want on database ``alias``."""
    connection = connections[alias]
    wanted: dict[str, tuple[str, CompiledSQL]] = {}
    for model in apps.get_models(include_auto_created=True):
        if not router.allow_migrate_model(alias, model):
            continue
        for obj in desired_objects(model, (vendor_of(connection),)):
            wanted[obj.name] = (model._meta.label, obj)
    return wanted


def differences(alias: str, owners: tuple[str, ...] | None = None) -> list[Difference]:
    """Return every difference on database ``alias`` (``owners`` limits the subsystems)."""
    connection = connections[alias]
    if not is_supported(connection):
        return []
    wanted = {
        name: item
        for name, item in expected_on(alias).items()
        if owners is None or item[1].owner in owners
    }
    present = installed_objects(connection)
    found: list[Difference] = []
    for name, (label, obj) in sorted(wanted.items()):
        if name not in present:
            found.append(
                Difference(alias, "missing", name, obj.table, f"{obj.owner} {obj.kind} of {label}")
            )
    all_wanted = expected_on(alias)
    for name, table in sorted(present.items()):
        if name not in all_wanted and name.startswith(UNEXPECTED_PREFIXES):
            found.append(Difference(alias, "unexpected", name, table, "no model wants it"))
    return found
