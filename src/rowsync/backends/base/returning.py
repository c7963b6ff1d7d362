"""A fast delete that returns the primary keys of the rows it deleted, in its one statement.

The identity map must evict the rows a fast delete (``QuerySet._raw_delete``) removed.
When the filter names no literal primary keys (a join, a foreign key: what Django's
Collector passes for a cascade), it would otherwise need a ``SELECT`` of the matching
keys first. Engines with ``DELETE ... RETURNING`` (PostgreSQL, SQLite 3.35+) answer them
from the ``DELETE`` itself: the compiler is Django's own ``SQLDeleteCompiler`` of the
connection (``connection.ops.compiler()``), composed with :class:`ReturningDeleteCompiler`.
MariaDB's multi-table ``DELETE`` (what Django writes for a joined filter) has no
``RETURNING``, and MySQL none at all: the caller keeps its ``SELECT`` there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet
from django.db.models.sql import DeleteQuery

from rowsync.backends.base.core import BackendCore


class ReturningDeleteCompiler:
    """Mixin on a vendor's ``SQLDeleteCompiler``: its ``DELETE`` returns the deleted pks."""

    query: Any
    connection: Any

    def as_sql(self) -> tuple[str, tuple[Any, ...]]:
        """Return Django's ``DELETE`` with ``RETURNING <pk column>`` appended."""
        sql, params = super().as_sql()  # type: ignore[misc]
        column = self.query.model._meta.pk.column
        return f"{sql} RETURNING {self.connection.ops.quote_name(column)}", params


#: ``{vendor's SQLDeleteCompiler: the same composed with ReturningDeleteCompiler}``
_COMPOSED: dict[type[Any], type[Any]] = {}


def _compose(django_compiler: type[Any]) -> type[Any]:
    """Return ``django_compiler`` (a vendor's ``SQLDeleteCompiler``) composed with the mixin."""
    composed = _COMPOSED.get(django_compiler)
    if composed is None:
        bases = (ReturningDeleteCompiler, django_compiler)
        composed = _COMPOSED[django_compiler] = type(django_compiler.__name__, bases, {})
    return composed


class ReturningDeleteMixin(BackendCore):
    """Run a queryset's fast delete and learn the deleted rows' primary keys."""

    #: Can a ``DELETE`` return the rows it deleted (``DELETE ... RETURNING``)?
    can_return_deleted_rows: ClassVar[bool] = False

    def delete_returning_pks(self, qs: QuerySet[Any], using: str) -> tuple[int, list[Any]] | None:
        """Delete ``qs``'s rows as ``qs._raw_delete(using)`` does; return ``(count, pks)``.

        The pks are converted as a query reading them would (the field's converters).
        None, without touching the database, when the engine cannot return them.
        """
        if not self.can_return_deleted_rows:
            return None
        query = qs.query.clone()
        query.__class__ = DeleteQuery
        connection = self.connection
        compiler = _compose(connection.ops.compiler(query.compiler))(query, connection, using)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return 0, []
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        pk_col = qs.model._meta.pk.get_col(query.get_initial_alias())
        converters = compiler.get_converters([pk_col])
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        return len(rows), [row[0] for row in rows]
