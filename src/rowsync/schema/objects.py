"""The frozen value object of one database object (trigger, constraint, function)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from rowsync.backends import MAX_NAME_BYTES, bounded_name


def object_name(kind: str, table: str, *parts: str) -> str:
    """Return ``rowsync_<kind>_<table>_<hash5>``, lower-case and at most 63 bytes.

    Args:
        kind: Short kind, e.g. ``od`` (on_delete) or ``cap`` (capture).
        table: The table the object belongs to (the hash keeps long names unique).
        parts: Anything else that tells objects of the same kind and table apart.
    """
    digest = hashlib.sha1("\0".join((kind, table, *parts)).encode()).hexdigest()[:5]
    head = f"rowsync_{kind}_"
    room = MAX_NAME_BYTES - len(head) - len(digest) - 1
    return bounded_name(head, table, digest, room)


@dataclass(frozen=True)
class CompiledSQL:
    """One database object as frozen SQL for one engine.

    Migrations store these values verbatim (``deconstruct()``), so changing a template
    in rowsync never changes what an old migration installs.

    Attributes:
        name: Object name, ``rowsync_<kind>_<table>_<hash5>`` (see :func:`object_name`);
            unique per database. Presence checks look for this name among triggers and
            constraints.
        vendor: Django vendor the SQL is for (``sqlite``, ``postgresql``, ``mysql``).
        table: Table the trigger or constraint is attached to.
        install_sql: Statements that create the object, run in order.
        uninstall_sql: Statements that remove it; they must tolerate its absence.
        owner: Subsystem that contributed it (``ondelete``, ``events``...).
        kind: ``trigger`` or ``constraint``: what the drift check looks for.
        references: Other tables the SQL names (SQLite re-creates the object after
            rebuilding any of them; a migration creates it after their models). Not part
            of the object's identity: a change of ``references`` alone changes no SQL, so
            it writes no migration.
    """

    name: str
    vendor: str
    table: str
    install_sql: tuple[str, ...]
    uninstall_sql: tuple[str, ...]
    owner: str = "rowsync"
    kind: str = "trigger"
    references: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Migration files hold lists; keep the value hashable and comparable.
        object.__setattr__(self, "install_sql", tuple(self.install_sql))
        object.__setattr__(self, "uninstall_sql", tuple(self.uninstall_sql))
        object.__setattr__(self, "references", tuple(self.references))

    @property
    def key(self) -> tuple[str, str]:
        """Return ``(vendor, name)``: what identifies the object across states."""
        return (self.vendor, self.name)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        """Return the ``(path, args, kwargs)`` that migrations serialize."""
        kwargs: dict[str, Any] = {
            "name": self.name,
            "vendor": self.vendor,
            "table": self.table,
            "install_sql": list(self.install_sql),
            "uninstall_sql": list(self.uninstall_sql),
            "owner": self.owner,
            "kind": self.kind,
        }
        if self.references:
            kwargs["references"] = list(self.references)
        return ("rowsync.schema.CompiledSQL", [], kwargs)


#: The name the events subsystem uses for its capture triggers: the same value object.
CompiledTrigger = CompiledSQL
