"""MariaDB/MySQL: the event worker (leases without ``LIMIT`` subqueries, deletes by id)."""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.base import BaseBackend


class MySQLWorker(BaseBackend):
    """MariaDB's worker facts."""

    supports_skip_locked: ClassVar[bool] = True

    # "LIMIT & IN/ALL/ANY/SOME subquery" is refused
    # (https://mariadb.com/kb/en/subquery-limitations/).
    worker_lease_update_subquery: ClassVar[bool] = False

    # ``DELETE ... WHERE id IN (a, b, ...)`` over ids that are not contiguous made InnoDB
    # lock the rows between them, which other workers hold: the four-worker test
    # deadlocked. One primary-key lookup per id locks only that row.
    worker_delete_one_by_one: ClassVar[bool] = True
