"""Which related rows Django's Collector leaves to the database on an ORM delete.

Django's Collector skips relations declared with a ``DB_*`` value. Those that
``ROWSYNC_DB_ON_DELETE`` (or a chain) makes the database enforce keep their Python
``on_delete``, so the Collector would still ``SELECT`` their rows, send their signals and
delete them itself, only for the database to find nothing left to cascade. It skips
them too, for one relation at a time, when Python has nothing left to do for the rows
the database removes below it (:func:`leaves_to_database`):

* the rows need no Python-level work (:meth:`Plan.cascade_subtree
  <rowsync.ondelete.plan.Plan.cascade_subtree>`: no multi-table inheritance, no
  ``GenericRelation``, every relation into them enforced by the database);
* no model below has a ``pre_delete`` receiver (it must run before the row goes, and
  only Django's Collector can send it);
* every model below with a ``post_delete`` receiver is captured with a complete row
  image: rowsync delivers its ``post_delete`` from the capture, in the model's delivery
  mode, as for ``DB_CASCADE`` (:func:`rowsync.events.delivers_post_delete`);
* ``delete()`` counts database-removed rows (``ROWSYNC_DB_ON_DELETE_COUNTS``), so it
  returns what Django's Python cascade returns;
* the collector deletes (a collector that only lists rows, rowsync's explaining one or
  the admin's, sees every row).

The hook is ``Collector.related_objects``, the method Django's Collector reads the rows
of one relation through (its own comments name it as the one to override): for a
relation left to the database it returns an empty queryset, so Django collects, signals
and deletes nothing there, and notes the relation on the collector for the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.deletion import Collector
from django.db.models.signals import post_delete, pre_delete

from rowsync import _patch, conf
from rowsync.backends import is_supported
from rowsync.ondelete import actions as a
from rowsync.ondelete.plan import model_plan

#: The collector attribute holding ``{field}`` of the relations left to the database.
LEFT = "rowsync_left_to_database"


def left_to_database(collector: Collector) -> frozenset[Any]:
    """Return the foreign keys whose rows ``collector`` left to the database."""
    return frozenset(getattr(collector, LEFT, ()))


def _receivers_allow(models: Iterable[type[Model]]) -> bool:
    from rowsync import events

    for model in models:
        if pre_delete.has_listeners(model):
            return False
        if post_delete.has_listeners(model) and not events.delivers_post_delete(model):
            return False
    return True


def leaves_to_database(collector: Collector, fields: Iterable[Any]) -> bool:
    """Return whether ``collector`` may leave the rows of ``fields`` to the database.

    See the module docstring for the rule.
    """
    fields = list(fields)
    if not fields or a._lists_only(collector) or getattr(collector, "force_collection", False):
        return False
    plan = model_plan(fields[0].model)
    subtrees = [plan.cascade_subtree(f) for f in fields]
    if any(s is None for s in subtrees):
        return False
    if not conf.db_on_delete_counts() or not is_supported(connections[collector.using]):
        return False
    return all(_receivers_allow(s) for s in subtrees if s is not None)


def _make_related_objects(
    django_related_objects: Callable[..., QuerySet[Any]],
) -> Callable[..., QuerySet[Any]]:
    def related_objects(
        self: Collector, related_model: type[Model], related_fields: Any, objs: Any
    ) -> QuerySet[Any]:
        found = django_related_objects(self, related_model, related_fields, objs)
        if not leaves_to_database(self, related_fields):
            return found
        self.__dict__.setdefault(LEFT, set()).update(related_fields)
        # Empty and evaluated without a query: the Collector collects nothing here.
        return found.none()

    return related_objects


def patch_related_objects() -> None:
    """Let ``Collector.related_objects`` leave relations to the database (idempotent)."""
    _patch.apply(Collector, "related_objects", _make_related_objects, feature="ondelete")
