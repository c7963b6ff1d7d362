"""MariaDB and MySQL (InnoDB).

InnoDB runs FK actions inside the storage engine, so cascaded rows fire no triggers
(MariaDB KB "Trigger Limitations"; MySQL bug #11472), and it silently turns
``ON DELETE SET DEFAULT`` into ``RESTRICT``.
"""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.base import BaseBackend


class MySQLBackend(BaseBackend):
    """MariaDB 10.6+ and MySQL 8.0+ with InnoDB."""

    vendor: ClassVar[str] = "mysql"
    fk_actions_fire_triggers: ClassVar[bool] = False
    supports_fk_set_default: ClassVar[bool] = False
    supports_skip_locked: ClassVar[bool] = True
    # InnoDB "exceed max depth of 15" (https://dev.mysql.com/doc/refman/8.0/en/create-table-foreign-keys.html)
    max_cascade_depth: ClassVar[int | None] = 15

    @property
    def is_mariadb(self) -> bool:
        """Return whether the server is MariaDB rather than MySQL."""
        return bool(getattr(self.connection, "mysql_is_mariadb", False))

    # --- worker ---
    # "LIMIT & IN/ALL/ANY/SOME subquery" is refused
    # (https://mariadb.com/kb/en/subquery-limitations/).
    worker_lease_update_subquery: ClassVar[bool] = False

    # --- schema objects ---
    identifier_quote: ClassVar[str] = "`"

    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers and FK constraints."""
        return (
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'rowsync\\_%' "
            "UNION ALL "
            "SELECT CONSTRAINT_NAME, TABLE_NAME FROM information_schema.TABLE_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'FOREIGN KEY' "
            "AND CONSTRAINT_NAME LIKE 'rowsync\\_%'"
        )
