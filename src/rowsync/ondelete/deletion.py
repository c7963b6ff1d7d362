"""Django's Collector and database-enforced on_delete: counts, RESTRICT, refusals.

rowsync wraps ``Collector.delete()`` (one patch, applied once by ``setup()``). For a
delete that reaches foreign keys the database enforces, the wrapper

1. counts the rows the database will cascade (``ROWSYNC_DB_ON_DELETE_COUNTS``), so
   ``delete()`` returns them as Django's Python path would;
2. runs Django's delete in a transaction: a savepoint when one is open and the database
   can refuse the delete (:mod:`rowsync.ondelete.refusal`), else ``atomic(savepoint=False)``
   as Django's own ``Collector.delete`` does;
3. checks the deferred constraints of RESTRICT foreign keys right away, so the
   Artist/Album/Song rule of Django holds: a row may be restricted only by rows that
   the same delete does not remove;
4. turns a refusal by the database (PROTECT, RESTRICT) into Django's own
   ``ProtectedError``/``RestrictedError`` naming the blocking objects: it rolls back,
   then replays the collection in Python, where each database-level value acts like
   its Python twin (Django 6.1's ``force_collection``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import reduce
from operator import or_
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Model, Q, QuerySet, deletion
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from rowsync import _patch, conf
from rowsync.backends import PROTECT_MARKER, SET_TARGET_MARKER, get_backend, is_supported
from rowsync.ondelete import actions as a
from rowsync.ondelete.collection import left_to_database, patch_related_objects
from rowsync.ondelete.errors import SetTargetMissing
from rowsync.ondelete.plan import Plan, get_plan, model_plan
from rowsync.ondelete.refusal import can_be_refused

#: Primary keys per counting query.
COUNT_BATCH = 10_000
#: Deepest self-referencing level counted (SQLite's trigger depth is 1000).
MAX_SELF_DEPTH = 1000


class _RestrictViolation(IntegrityError):
    """A deferred RESTRICT constraint is violated right after the delete."""


class _SkipCollection(frozenset[Any]):
    """Django 6.1's ``SKIP_COLLECTION`` plus every rowsync ``DB_*`` value."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, a.DatabaseAction) or frozenset.__contains__(self, item)


def _concrete(model: type[Model]) -> type[Model]:
    concrete = model._meta.concrete_model
    return concrete if concrete is not None else model


class DeleteWork:
    """What one ``Collector.delete()`` means for database-enforced foreign keys."""

    def __init__(self, collector: Collector, plan: Plan) -> None:
        self.collector = collector
        self.plan = plan
        self.using: str = collector.using
        # [(model, [pk, ...])]: the rows Django deletes itself (pks vanish on success).
        self.rows = [
            (model, [obj.pk for obj in instances]) for model, instances in collector.data.items()
        ]
        # [(instance, pk)]: Django sets pks to None after its delete; a late refusal
        # (RESTRICT) must give them back.
        self.instances = [(obj, obj.pk) for objs in collector.data.values() for obj in objs]
        self.querysets: list[QuerySet[Any]] = list(collector.fast_deletes)
        self.touched: set[type[Model]] = {_concrete(m) for m, _ in self.rows} | {
            _concrete(qs.model) for qs in self.querysets
        }
        # {field}: setting/chain cascades the Collector left to the database.
        self.left = left_to_database(collector)
        # Whether the database can refuse this delete: only then is a savepoint spent.
        deferred = get_backend(connections[self.using]).fk_checks_deferred
        self.refusable = can_be_refused(plan, frozenset(self.touched), deferred)

    @classmethod
    def prepare(cls, collector: Collector) -> DeleteWork | None:
        """Return the work for ``collector``, or None when no enforced FK is involved."""
        models = list(collector.data) + [qs.model for qs in collector.fast_deletes]
        if not models or not is_supported(connections[collector.using]):
            return None
        plan = model_plan(models[0])
        # Django's own DB_* values leave the counts (and everything else) to Django.
        if not any(
            plan.behaviours[f].rowsync_compiles
            for m in models
            for f in plan.incoming.get(_concrete(m), ())
        ):
            return None
        return cls(collector, plan)

    def restore_pks(self) -> None:
        """Give the collected instances their primary keys back after a rollback."""
        for obj, pk in self.instances:
            setattr(obj, obj._meta.pk.attname, pk)

    # -- counts --------------------------------------------------------------------
    def _manager(self, model: type[Model]) -> QuerySet[Any]:
        return model._base_manager.using(self.using).all()

    def count(self) -> Counter[str]:
        """Return ``{label: rows}`` the database will delete (cascades) for this delete."""
        counter: Counter[str] = Counter()
        for model, pks in self.rows:
            # Batches keep the IN list under SQLite's variable limit.
            for start in range(0, len(pks), COUNT_BATCH):
                rows = self._manager(model).filter(pk__in=pks[start : start + COUNT_BATCH])
                self._walk(_concrete(model), rows, True, counter, 0)
        for qs in self.querysets:
            self._walk(_concrete(qs.model), qs, True, counter, 0)
        return counter

    def _cascades(self, model: type[Model], from_python: bool) -> list[Any]:
        fields = []
        for field in self.plan.incoming.get(model, ()):
            behaviour = self.plan.behaviours[field]
            if behaviour.operation != a.CASCADE or not behaviour.rowsync_compiles:
                continue  # Django counts its own DB_CASCADE rows (as zero) itself.
            if from_python and not (behaviour.python_skips or field in self.left):
                continue  # Django's Collector deletes these rows itself.
            fields.append(field)
        return fields

    def _walk(
        self,
        model: type[Model],
        rows: QuerySet[Any],
        from_python: bool,
        counter: Counter[str],
        depth: int,
    ) -> None:
        if depth > 64:
            return
        self.touched.add(model)
        fields = self._cascades(model, from_python)
        own = [f for f in fields if _concrete(f.model) is model]
        if own:
            rows = self._expand_self(model, rows, own, counter)
        for field in fields:
            if field in own:
                continue
            child = _concrete(field.model)
            values = rows.values(field.target_field.attname)
            children = self._manager(child).filter(**{f"{field.name}__in": values})
            found = children.count()
            if found:
                counter[child._meta.label] += found
                self._walk(child, children, False, counter, depth + 1)

    def _expand_self(
        self, model: type[Model], rows: QuerySet[Any], own: list[Any], counter: Counter[str]
    ) -> QuerySet[Any]:
        """Count the descendants a self-referencing cascade removes; return all the rows."""
        seen = set(rows.values_list("pk", flat=True))
        frontier = set(seen)
        extra = 0
        for _ in range(MAX_SELF_DEPTH):
            if not frontier:
                break
            parents = self._manager(model).filter(pk__in=frontier)
            condition = reduce(
                or_,
                (Q(**{f"{f.name}__in": parents.values(f.target_field.attname)}) for f in own),
            )
            found = set(self._manager(model).filter(condition).values_list("pk", flat=True))
            frontier = found - seen
            seen |= frontier
            extra += len(frontier)
        if extra:
            counter[model._meta.label] += extra
        return self._manager(model).filter(pk__in=seen)

    # -- RESTRICT ------------------------------------------------------------------
    def restrict_fields(self) -> list[Any]:
        """Return the RESTRICT foreign keys whose targets this delete touches."""
        return [
            field
            for field, behaviour in self.plan.behaviours.items()
            if behaviour.operation == a.RESTRICT
            and field.db_constraint
            and _concrete(field.remote_field.model) in self.touched
        ]

    def check_restrict(self) -> None:
        """Fail now if a deferred RESTRICT constraint is violated (raise an IntegrityError)."""
        connection = connections[self.using]
        backend = get_backend(connection)
        if not backend.fk_checks_deferred:
            return  # checked row by row already
        for field in self.restrict_fields():
            table = field.model._meta.db_table
            constraint = _fk_constraint(connection, table, field.column)
            statements = backend.restrict_check_sql(table, constraint or "")
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
                    if cursor.description is not None and cursor.fetchall():
                        raise _RestrictViolation(f"RESTRICT violated on {table}.{field.column}")

    # -- refusals ------------------------------------------------------------------
    def explain(self, error: DatabaseError) -> Collector | None:
        """Raise Django's error for a refusal by the database.

        Returns:
            A fully collected Python-level Collector when Django's rules allow the delete
            but the engine refused it anyway (InnoDB checks RESTRICT row by row, in
            constraint order, so the Artist/Album/Song delete can fail there); running
            its ``delete()`` deletes in Django's dependency order. None otherwise.
        """
        if SET_TARGET_MARKER in str(error):
            raise SetTargetMissing(
                "Cannot delete: SET/SET_DEFAULT would point a foreign key at a missing row "
                f"({error})"
            ) from error
        collector = explain_collector(self.using, self.collector.origin)
        try:
            for model, pks in self.rows:
                collector.collect(self._manager(model).filter(pk__in=pks))  # type: ignore[arg-type]
            for qs in self.querysets:
                collector.collect(qs)  # type: ignore[arg-type]
        except (ProtectedError, RestrictedError) as exc:
            raise exc from error
        backend = get_backend(connections[self.using])
        if isinstance(error, IntegrityError) and not backend.fk_checks_deferred:
            return collector
        return None


# {(alias, table, column): constraint name}
_FK_NAMES: dict[tuple[str, str, str], str | None] = {}


def _fk_constraint(connection: Any, table: str, column: str) -> str | None:
    key = (connection.alias, table, column)
    if key not in _FK_NAMES:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        names = [
            name
            for name, info in constraints.items()
            if info.get("foreign_key")
            and info.get("columns") == [column]
            and not name.startswith("rowsync_")
        ]
        _FK_NAMES[key] = names[0] if names else None
    return _FK_NAMES[key]


def _is_refusal(error: DatabaseError) -> bool:
    """Return whether ``error`` is the database refusing a delete that :meth:`explain` names.

    Foreign-key refusals are integrity errors on every engine, and so are rowsync's own
    triggers' refusals (SQLSTATE 23000 on MariaDB, ``foreign_key_violation`` on
    PostgreSQL, ``RAISE(ABORT)`` on SQLite).
    """
    text = str(error)
    return isinstance(error, IntegrityError) or PROTECT_MARKER in text or SET_TARGET_MARKER in text


def explain_collector(using: str, origin: Any) -> Collector:
    """Return a Collector in which every database-level value acts like its Python twin."""
    if hasattr(deletion, "SKIP_COLLECTION"):
        collector = Collector(using, origin=origin, force_collection=True)  # type: ignore[call-arg]
    else:
        collector = Collector(using, origin=origin)
    collector.rowsync_explain = True  # type: ignore[attr-defined]
    return collector


def _enforce(collector: Collector, proceed: Callable[[], tuple[int, dict[str, int]]]) -> Any:
    """The on_delete step of ``Collector.delete`` (see :mod:`rowsync._patch`)."""
    if getattr(collector, "rowsync_explain", False):
        return proceed()
    work = DeleteWork.prepare(collector)
    if work is None:
        return proceed()
    try:
        # A savepoint only where a refusal must be rolled back and explained.
        with transaction.atomic(using=collector.using, savepoint=work.refusable):
            extra = work.count() if conf.db_on_delete_counts() else Counter()
            total, per_model = proceed()
            work.check_restrict()
    except (ProtectedError, RestrictedError):
        raise
    except DatabaseError as error:
        work.restore_pks()
        if (
            not work.refusable
            or not _is_refusal(error)
            or connections[collector.using].needs_rollback
        ):
            # Not the database refusing the delete (a deadlock, a lost connection,
            # a timeout), or nothing to explain: the caller's own handling must see it
            # unchanged, and the transaction may be unusable (InnoDB rolls a deadlocked
            # one back whole; without a savepoint the enclosing one must roll back).
            raise
        fallback = work.explain(error)
        if fallback is None:
            raise
        return fallback.delete()
    if extra:
        merged = Counter(per_model)
        merged.update(extra)
        return total + sum(extra.values()), dict(merged)
    return total, per_model


def needs_patch() -> bool:
    """Return whether rowsync enforces some foreign key (otherwise Django is left alone)."""
    from django.apps import apps

    return get_plan(apps).switched_on


def patch_collector() -> None:
    """Add the on_delete step, widen 6.1's ``SKIP_COLLECTION``, hook ``related_objects``.

    Idempotent.
    """
    if hasattr(deletion, "SKIP_COLLECTION"):  # Django 6.1+
        _patch.apply(deletion, "SKIP_COLLECTION", _SkipCollection, feature="ondelete")
    patch_related_objects()
    _patch.add_delete_step(
        "ondelete.enforce", _enforce, order=_patch.ORDER_ONDELETE, feature="ondelete"
    )
