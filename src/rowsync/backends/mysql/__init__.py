"""MariaDB and MySQL (InnoDB).

InnoDB runs FK actions inside the storage engine, so cascaded rows fire no triggers
(MariaDB KB "Trigger Limitations"; MySQL bug #11472), and it silently turns
``ON DELETE SET DEFAULT`` into ``RESTRICT``.

The backend is composed of one part per concern: :mod:`.ondelete`, :mod:`.capture`
(with :mod:`.cascade`, the pre-cascade trigger), :mod:`.worker`. MySQL has no inbox
tables: its triggers write the event table directly.
"""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.mysql.cascade import MySQLCascadeCapture
from rowsync.backends.mysql.ondelete import MySQLOnDelete
from rowsync.backends.mysql.worker import MySQLWorker

__all__ = ["MySQLBackend"]


class MySQLBackend(MySQLOnDelete, MySQLCascadeCapture, MySQLWorker):
    """MariaDB 10.6+ and MySQL 8.0+ with InnoDB."""

    vendor: ClassVar[str] = "mysql"
    # MariaDB KB "Trigger Limitations", MySQL bug #11472: see the module docstring.
    fk_actions_fire_triggers: ClassVar[bool] = False
    # MySQL has no DELETE ... RETURNING; MariaDB's single-table DELETE has, its multi-table
    # DELETE (Django's for a joined filter) has not (https://mariadb.com/kb/en/delete/).
    can_return_deleted_rows: ClassVar[bool] = False
    # https://mariadb.com/kb/en/identifier-qualifiers/
    identifier_quote: ClassVar[str] = "`"
