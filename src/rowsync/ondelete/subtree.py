"""Which rows below a project-wide cascade the database alone can delete.

:func:`cascade_subtree` answers, per foreign key, the part of the rule of
:mod:`rowsync.ondelete.collection` that does not depend on signal receivers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Model
from django.db.models.deletion import get_candidate_relations_to_delete

from rowsync.ondelete import actions as a
from rowsync.ondelete.plan import _generic_relations

if TYPE_CHECKING:
    from rowsync.ondelete.plan import Plan


def cascade_subtree(plan: Plan, fk: Any) -> frozenset[type[Model]] | None:
    """Return the models whose rows the database alone can delete below ``fk``.

    The rows of ``fk``'s model, and through it every row a cascade then reaches, are
    deleted by the database with nothing left for Django's Collector to do in
    Python when

    * ``fk`` is a ``CASCADE`` the setting or a chain promotes (``DB_*`` values are
      skipped by the Collector already), with a database constraint;
    * no model below is a multi-table inheritance child or parent (Django deletes
      the other half of the row itself), owns a ``GenericRelation`` or has a
      ``RESTRICT`` foreign key (Django lets the restricted row go only when it sees the
      restricting row deleted by another path of the same delete);
    * every relation into a model below is one the Collector leaves alone
      (``DO_NOTHING``, a ``DB_*`` value) or another such cascade: a Python-level
      relation, or a ``SET_NULL``/``PROTECT``/... the setting promotes, is Django's
      work on ORM deletes.

    Signal receivers are not looked at here (they come and go at run time):
    :func:`rowsync.ondelete.collection.leaves_to_database` checks them.

    Returns:
        The concrete models, ``fk``'s own first among them; None when the Collector
        must collect ``fk``'s rows.
    """
    found = _subtree(plan, fk, {fk})
    return None if found is None else frozenset(found)


def _subtree(plan: Plan, fk: Any, seen: set[Any]) -> set[type[Model]] | None:
    behaviour = plan.behaviours.get(fk)
    if (
        behaviour is None
        or behaviour.operation != a.CASCADE
        or behaviour.source not in ("setting", "chain")
        or not fk.db_constraint
        or fk.remote_field.parent_link
    ):
        return None
    child: type[Model] = fk.model._meta.concrete_model
    if child._meta.parents or _generic_relations(child) or _restricts(child):
        return None
    found = {child}
    # Django's own list: exactly the relations its Collector would follow.
    for rel in get_candidate_relations_to_delete(child._meta):
        inner = rel.field  # type: ignore[attr-defined]
        if inner.remote_field.on_delete is models.DO_NOTHING or inner in seen:
            continue
        known = plan.behaviours.get(inner)
        if known is not None and known.python_skips:
            continue
        seen.add(inner)
        below = _subtree(plan, inner, seen)
        if below is None:
            return None
        found |= below
    return found


def _restricts(model: type[Model]) -> bool:
    """Return whether ``model`` has a ``RESTRICT`` foreign key Django checks in Python.

    Django lets a restricted row go when the restricting row is deleted too, by another
    path of the same delete: it must see the restricting rows in its collection.
    """
    return any(
        getattr(f.remote_field, "on_delete", None) is models.RESTRICT
        for f in model._meta.concrete_fields
        if f.is_relation and f.many_to_one
    )
