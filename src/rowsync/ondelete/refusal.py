"""Whether the database can refuse an ORM delete (the on_delete step's savepoint).

The on_delete step (:mod:`rowsync.ondelete.deletion`) runs Django's delete in a savepoint
so that a refusal by the database can be rolled back and replayed as Django's own
``ProtectedError``/``RestrictedError``, the transaction still usable. A delete the
database cannot refuse needs no savepoint: it runs in ``atomic(savepoint=False)``, as
Django's own ``Collector.delete`` does.

The database can refuse a delete when a foreign key that can refuse points at a model
whose rows the delete removes: the deleted models, and every model the database deletes
rows of below them (any ``CASCADE`` it enforces: rowsync's, a setting's or a chain's, and
Django 6.1's ``DB_CASCADE``). The foreign keys that can refuse, with a database
constraint:

* ``PROTECT``: the constraint (PostgreSQL's ``ON DELETE RESTRICT``, Django's own on
  MariaDB) or rowsync's trigger (SQLite) refuses;
* ``RESTRICT``: Django's ``NO ACTION`` constraint, checked right after the delete
  (:meth:`DeleteWork.check_restrict <rowsync.ondelete.deletion.DeleteWork.check_restrict>`)
  where it is deferred, row by row on MariaDB;
* ``SET``/``SET_DEFAULT``: rowsync's trigger checks that the target row exists;
* ``DO_NOTHING`` where the engine checks foreign keys row by row (MariaDB): its
  ``NO ACTION`` constraint refuses during the delete, and a delete that Django's order
  allows is then replayed in that order. Where checks are deferred it refuses at COMMIT,
  as without rowsync.

The verdict is static for a process (the plan is), so it is cached on the plan per set
of deleted models and per kind of engine.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from rowsync.ondelete import actions as a
from rowsync.ondelete.plan import Behaviour, Plan

#: Behaviours whose database objects can refuse the delete of a target row.
REFUSING = frozenset({a.PROTECT, a.RESTRICT, a.SET, a.SET_DEFAULT})

#: The key :func:`can_be_refused` caches its verdicts under, in the plan's ``__dict__``.
_CACHE = "_rowsync_refusals"


def database_reach(plan: Plan, deleted: frozenset[type[Model]]) -> set[type[Model]]:
    """Return ``deleted`` and every model whose rows the database may delete below them."""
    reach = set(deleted)
    frontier = list(deleted)
    while frontier:
        model = frontier.pop()
        for fk in plan.incoming.get(model, ()):
            child: type[Model] = fk.model._meta.concrete_model
            if plan.behaviours[fk].operation == a.CASCADE and child not in reach:
                reach.add(child)
                frontier.append(child)
    return reach


def refuses(fk: Any, behaviour: Behaviour, deferred: bool) -> bool:
    """Return whether the database objects of ``fk`` can refuse its target row's delete."""
    if not fk.db_constraint or not behaviour.rowsync_compiles:
        return False  # no constraint, no rowsync object (E031/E034 refuse these anyway)
    if behaviour.operation in (a.SET, a.SET_DEFAULT):
        return behaviour.supported
    if behaviour.operation == a.DO_NOTHING:
        return not deferred
    return behaviour.operation in REFUSING


def can_be_refused(plan: Plan, deleted: frozenset[type[Model]], deferred: bool) -> bool:
    """Return whether the database can refuse a delete of rows of the models ``deleted``.

    Args:
        plan: The plan of the deleted models' registry.
        deleted: The concrete models whose rows the delete removes itself.
        deferred: Whether the engine defers foreign key checks to COMMIT
            (``fk_checks_deferred`` of its backend).
    """
    cache: dict[tuple[frozenset[type[Model]], bool], bool] = plan.__dict__.setdefault(_CACHE, {})
    key = (deleted, deferred)
    found = cache.get(key)
    if found is None:
        found = cache[key] = any(
            refuses(fk, plan.behaviours[fk], deferred)
            for model in database_reach(plan, deleted)
            for fk in plan.incoming.get(model, ())
        )
    return found
