"""Fast deletes (``QuerySet._raw_delete``) of mapped models: evict the rows they deleted.

Django's Collector deletes a queryset in one ``DELETE`` when it can (no signals, no
cascades to collect); rowsync keeps that fast delete for mapped models and evicts the
rows it removed from the current context's map and the shared map. Which rows: all
mapped ones for an unfiltered queryset, those named by a filter on literal pks, and
otherwise (a join, a foreign key: Django's cascades) the rows the ``DELETE`` itself
returns where the engine can (``DELETE ... RETURNING``), else the result of one
``SELECT`` of the matching pks run first. Nothing extra runs when no row of the model
is mapped.

The identity map knows no SQL: the returning delete is handed in by rowsync's app
config (:func:`use_delete_returning`, from :mod:`rowsync.backends`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from rowsync._typing import DbAlias
from rowsync.identity import dbactions
from rowsync.identity.freshness import after_delete, held_pks, named_rows
from rowsync.identity.queryset import literal_pks

#: ``run(qs, using) -> (count, deleted pks)``, or None when the engine cannot return them.
DeleteReturning = Callable[[QuerySet[Any], DbAlias], tuple[int, list[Any]] | None]

_RETURNING: list[DeleteReturning] = []


def use_delete_returning(run: DeleteReturning) -> None:
    """Make fast deletes learn their deleted rows from ``run`` (idempotent: the last wins)."""
    _RETURNING[:] = [run]


def fast_delete(qs: QuerySet[Any], using: DbAlias, django: Callable[..., Any]) -> Any:
    """Run Django's fast delete of ``qs`` (``django(qs, using)``) and evict the deleted rows.

    Where the database changes mapped children of the deleted rows in turn (``DB_*``
    foreign keys, :mod:`rowsync.identity.dbactions`), every deleted pk is needed, not only
    the mapped ones.
    """
    held = held_pks(qs.model, using)
    follow = dbactions.reaches_held(qs.model, using)
    if not held and not follow:
        return django(qs, using)
    if follow:
        gone = literal_pks(qs) if qs.query.where.children else None
    else:
        gone = named_rows(qs, held)
    if gone is None and _RETURNING:
        done = _RETURNING[0](qs, using)
        if done is not None:
            count, pks = done
            after_delete(qs.model, pks if follow else held.intersection(pks), using)
            return count
    if gone is None:
        gone = set(qs.using(using).order_by().values_list("pk", flat=True))
        if not follow:
            gone &= held
    result = django(qs, using)
    after_delete(qs.model, gone, using)
    return result
