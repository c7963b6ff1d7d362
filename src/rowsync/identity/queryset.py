"""Answer ``QuerySet.get()`` from the identity map, without SQL, when that is correct.

:func:`get_from_map` is consulted by rowsync's ``QuerySet.get`` before any SQL is
built. It answers only a *pure primary-key lookup*:

* the primary key comes from ``get(pk=...)`` / ``get(<pk name or attname>[__exact]=...)``,
  a single non-negated ``Q`` of that form (what foreign-key descriptors pass), or an
  earlier ``filter(pk=...)``;
* every other condition of the queryset is an ``exact`` comparison with a plain value
  on a column of the model's own table (a related manager's scope such as
  ``blog.article_set``, or ``filter(title="x")``), and the mapped instance has that
  value loaded and equal; otherwise SQL decides;
* no joins, ``exclude()``, ``Q | Q``, slices, annotations, ``extra()``, ``values()`` /
  ``values_list()``, ``select_related()``, ``prefetch_related()``, unions,
  ``select_for_update()`` or ``get_or_create``/``update_or_create`` (``_for_write``);
* the instance was loaded from the database the queryset reads (``using()``, routers).

Anything else returns None and Django's ``get()`` runs its SQL; the rows it reads
still come back as the mapped instances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Model, Q, QuerySet
from django.db.models import query as query_module
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In
from django.db.models.query import ModelIterable
from django.db.models.sql.where import AND

from rowsync.identity import scope
from rowsync.identity.keys import REGISTRY, IdentityOptions
from rowsync.identity.loading import from_db, view_of
from rowsync.identity.reread import PREFETCHED, drop_prefetched
from rowsync.identity.scope import SHARED, Session
from rowsync.identity.state import MappedState

_M = TypeVar("_M", bound=Model)
_MISSING = object()
_get_session = scope._CURRENT.get


def _pk_from_args(
    pk_lookups: frozenset[str], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Return the key of ``get(Q(pk=...))``, ``_MISSING`` for any other arguments.

    ``get(pk=...)`` alone is answered inline by :func:`get_from_map`.
    """
    if kwargs or len(args) != 1:
        return _MISSING
    q = args[0]
    if type(q) is not Q or q.negated or len(q.children) != 1:
        return _MISSING
    child = q.children[0]
    if type(child) is not tuple or child[0] not in pk_lookups:
        return _MISSING
    return child[1]


def get_from_map(qs: QuerySet[_M], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _M | None:
    """Return the mapped instance ``qs.get(*args, **kwargs)`` would return, or None.

    None means "ask the database", never "does not exist".
    """
    opts = REGISTRY.get(qs.model)
    if opts is None:
        return None
    session = _get_session()
    if session is None or session.mode:
        # No map yet in this context, or refresh_from_db/populate_existing: use SQL.
        return None if not opts.shared or session is not None else _shared_get(qs, args, kwargs)
    if kwargs and not args and len(kwargs) == 1:  # get(pk=...): the common case, inline
        ((key, pk),) = kwargs.items()
        if key not in opts.pk_lookups:
            return None
    elif args or kwargs:
        pk = _pk_from_args(opts.pk_lookups, args, kwargs)
        if pk is _MISSING:
            return None  # get()'s own conditions are not in qs.query yet: ask the database
    else:
        pk = _MISSING
    if not _plain_select(qs):
        return None
    found = _pk_and_conditions(opts, qs.query, pk)
    if found is None:
        return None
    pk, conditions = found
    obj = _answer(opts, qs.model, session, pk, _read_db(qs), conditions)
    known = qs._known_related_objects  # type: ignore[attr-defined]
    if obj is not None and known:
        _set_known_related(obj, known)
    return obj


def _plain_select(qs: QuerySet[Any]) -> bool:
    """Return whether ``qs`` reads plain model rows of one table, unsliced and unlocked.

    False for anything whose rows are not the mapped instances as they are (values(),
    annotations, select_related, prefetches, unions, slices, ``select_for_update()``,
    ``populate_existing()``, a non-default fetch mode) or that must take a lock or run
    SQL of its own (``get_or_create()``: ``_for_write``).
    """
    query = qs.query
    state: Any = qs  # private QuerySet attributes django-stubs does not declare
    return not (
        qs._iterable_class is not ModelIterable
        or state._for_write
        or state._prefetch_related_lookups
        or query.select_for_update
        or query.combinator
        or query.select_related
        or query.annotations
        or query.extra
        or query.extra_tables
        or query.low_mark
        or query.high_mark is not None
        or "rowsync_populate" in query.__dict__
        or getattr(state, "_fetch_mode", _DEFAULT_FETCH_MODE) is not _DEFAULT_FETCH_MODE
    )


def _pk_and_conditions(
    opts: IdentityOptions, query: Any, pk: Any
) -> tuple[Any, list[tuple[str, Any]] | None] | None:
    """Split ``query``'s filter into the primary key and the other ``exact`` conditions.

    ``pk`` is the key ``get()`` was given (``_MISSING`` if none): a ``filter(pk=...)``
    supplies it otherwise. Returns ``(pk, [(attname, value), ...] or None)``, or None
    when the filter is anything but an AND of ``exact`` comparisons with plain values on
    the model's own table, or names no single-column primary key.
    """
    conditions: list[tuple[str, Any]] | None = None
    where = query.where
    if where.children:
        if where.negated or where.connector != AND or _joins(query):
            return None
        base = next(iter(query.alias_map), None)
        conditions = []
        for child in where.children:
            column = _exact_column(child, base)
            if column is None:
                return None
            attname, value = column
            if attname == opts.pk_attname and not opts.composite and pk is _MISSING:
                pk = value
            else:
                conditions.append(column)
    if pk is _MISSING or opts.composite:
        return None
    return pk, conditions


def _joins(query: Any) -> bool:
    """Return whether ``query`` joins another table."""
    base = next(iter(query.alias_map), None)
    refcount = query.alias_refcount
    # A join Django trimmed stays in alias_map with a zero refcount (related managers).
    return any(refcount.get(alias) for alias in query.alias_map if alias != base)


def _exact_column(child: Any, base: str | None) -> tuple[str, Any] | None:
    """Return ``(attname, value)`` for ``<column of table base> = <plain value>``, else None."""
    if not isinstance(child, Exact):
        return None
    lhs, rhs = child.lhs, child.rhs
    if type(lhs) is not Col or lhs.alias != base or hasattr(rhs, "resolve_expression"):
        return None
    return lhs.target.attname, rhs


def _read_db(qs: QuerySet[Any]) -> str:
    """Return ``qs.db``, without asking the routers when there are none (the common case)."""
    state: Any = qs  # private QuerySet attributes django-stubs does not declare
    db: str | None = state._db
    if db:
        return db
    if router.routers or state._for_write:
        return qs.db
    instance = state._hints.get("instance")
    return (instance._state.db if instance is not None else None) or DEFAULT_DB_ALIAS


def _answer(
    opts: IdentityOptions,
    model: type[_M],
    session: Session,
    pk: Any,
    db: str,
    conditions: list[tuple[str, Any]] | None,
) -> _M | None:
    """Return the mapped ``model`` instance of row ``pk`` of ``db`` if it meets ``conditions``."""
    if pk is None or not _loads_through_rowsync(model):
        return None
    if type(pk) is not opts.pk_type:
        if isinstance(pk, Model):
            return None
        try:
            pk = opts.pk_field.to_python(pk)
        except Exception:  # Django's get() raises the right error for bad values
            return None
    m = SHARED if opts.shared else session.map
    if opts.fast:
        table = m.weak.get(opts.concrete)
        ref = table.get(pk) if table is not None else None
        obj = ref() if ref is not None else None
    else:
        obj = m.lookup(opts, pk, db)
    if obj is None or obj._state.db != db:
        return None
    if conditions:
        d = obj.__dict__
        for attname, value in conditions:
            if d.get(attname, _MISSING) != value:
                return None
    if PREFETCHED in obj.__dict__:  # what a fresh get() returns holds no prefetch results
        drop_prefetched(obj)
    if obj.__class__ is not model:
        obj = view_of(m, opts, model, obj, pk, db)
    return obj  # type: ignore[return-value]


def literal_pks(qs: QuerySet[Any]) -> set[object] | None:
    """Return the primary keys ``qs`` is filtered on, None unless that is its whole filter.

    Answers ``filter(pk=1)`` and ``filter(pk__in=[1, 2])`` (what Django's own writes
    use) with literal values; anything else is None.
    """
    where = qs.query.where
    if where.negated or where.connector != AND or len(where.children) != 1:
        return None
    child = where.children[0]
    if not isinstance(child, Exact | In):
        return None
    lhs = child.lhs
    pk_field = qs.model._meta.pk
    if type(lhs) is not Col or lhs.target is not pk_field or pk_field is None:
        return None
    values = [child.rhs] if isinstance(child, Exact) else child.rhs
    if not isinstance(values, list | tuple | set | frozenset):
        return None
    if any(hasattr(v, "resolve_expression") or isinstance(v, Model) for v in values):
        return None
    try:
        return {pk_field.to_python(v) for v in values}
    except Exception:  # an invalid value: let SQL decide which rows match
        return None


#: Django 6.1's default ``QuerySet`` fetch mode (None before 6.1: no fetch modes).
_DEFAULT_FETCH_MODE = getattr(query_module, "DEFAULT_FETCH_MODE", None)


def _loads_through_rowsync(model: type[Model]) -> bool:
    """Return whether ``model`` keeps rowsync's ``from_db`` (no override to call per load).

    A model that defines its own ``from_db`` expects it to run for every load: the map
    must not answer ``get()`` without one. Read per call: a class may change at run time.
    """
    return getattr(model.from_db, "__func__", None) is from_db


#: ``{manager class: whether its get() may be answered before building a QuerySet}``
_PLAIN_MANAGERS: dict[type[Any], bool] = {}


def _plain_manager(cls: type[Any]) -> bool:
    """Return whether ``cls().get(...)`` is exactly ``QuerySet(model, using=_db).get(...)``.

    True when the manager builds its QuerySet the default way (no ``get_queryset``
    override that filters, as related managers and custom managers may) and the
    QuerySet class keeps Django's ``__init__`` and rowsync's ``get``.
    """
    flag = _PLAIN_MANAGERS.get(cls)
    if flag is None:
        from django.db.models.manager import BaseManager

        from rowsync.identity.models import IdentityManager

        qs_class = getattr(cls, "_queryset_class", None)
        flag = _PLAIN_MANAGERS[cls] = bool(
            cls.get_queryset in (BaseManager.get_queryset, IdentityManager.get_queryset)
            and isinstance(qs_class, type)
            and issubclass(qs_class, QuerySet)
            and qs_class.get is QuerySet.get
            and qs_class.__init__ is QuerySet.__init__
        )
    return flag


def manager_get(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``Manager.get`` answering ``Model.objects.get(pk=...)`` from the map first.

    The hit path: a single primary-key keyword on a plain manager (see
    :func:`_plain_manager`) is answered without building a QuerySet (and its
    ``Query``), which costs more than the lookup itself. Anything else, and a row the
    map does not hold, goes to ``original`` (Django's ``get()``, through rowsync's
    ``QuerySet.get``, which applies every rule of :func:`get_from_map`).

    The default case (a weakly mapped, single-database, context-mapped model, a key of
    the pk's own type) is answered inline, in this one frame (each call and memory read
    saved is a measurable share of a hit); others go through :func:`_answer`.
    """

    def get(self: Any, *args: Any, **kwargs: Any) -> Any:
        model = self.model
        opts = REGISTRY.get(model)
        if opts is None or args or len(kwargs) != 1 or self._hints:
            return original(self, *args, **kwargs)
        pk = kwargs.get("pk", _MISSING)  # "pk" is in every pk_lookups; no items() view
        if pk is _MISSING:
            ((key, pk),) = kwargs.items()
            if key not in opts.pk_lookups:
                return original(self, *args, **kwargs)
        session = _get_session()
        if opts.composite or session is None or session.mode:
            return original(self, *args, **kwargs)
        plain = _PLAIN_MANAGERS.get(type(self))
        if not (plain or (plain is None and _plain_manager(type(self)))):
            return original(self, *args, **kwargs)
        db = self._db or (router.db_for_read(model) if router.routers else DEFAULT_DB_ALIAS)
        # _loads_through_rowsync(model), inline: one frame less per hit.
        if (
            opts.fast
            and type(pk) is opts.pk_type
            and getattr(model.from_db, "__func__", None) is from_db
        ):
            table = session.map.weak.get(opts.concrete)
            ref = table.get(pk) if table is not None else None
            obj = ref() if ref is not None else None
            if obj is not None:
                # Built by the loader: the entry is its _state (no read of the instance).
                if ref.__class__ is MappedState:
                    same_db, maybe_prefetched = ref.db == db, ref._rowsync_prefetched
                else:
                    same_db, maybe_prefetched = obj._state.db == db, True
                if same_db:
                    # A fresh get() holds no prefetch results.
                    if maybe_prefetched and PREFETCHED in obj.__dict__:
                        drop_prefetched(obj)
                    if obj.__class__ is model:
                        return obj
                    return view_of(session.map, opts, model, obj, pk, db)
        else:
            obj = _answer(opts, model, session, pk, db, None)
            if obj is not None:
                return obj
        return original(self, *args, **kwargs)

    return get


def _shared_get(qs: QuerySet[_M], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _M | None:
    """Answer a shared model's get() in a context that has no map of its own yet."""
    scope.current_session()
    return get_from_map(qs, args, kwargs)


def _set_known_related(obj: Model, known: dict[Any, dict[Any, Model]]) -> None:
    """Set the related objects a related manager knows (as ``ModelIterable`` does)."""
    for field, rel_objs in known.items():
        if field.is_cached(obj):
            continue
        try:
            rel_obj = rel_objs[getattr(obj, field.attname)]
        except (KeyError, AttributeError):
            continue
        setattr(obj, field.name, rel_obj)


def populate_existing(qs: QuerySet[_M]) -> QuerySet[_M]:
    """Return a copy of ``qs`` whose rows overwrite the loaded values of mapped instances.

    The default re-fetch policy keeps the values a mapped instance has loaded (and
    fills only unloaded ones); this is the per-query way to refresh them. Unsaved
    changes of the instances the query returns are lost.

    Example:
        >>> Article.objects.filter(pk=1).update(title="new")  # elsewhere
        >>> populate_existing(Article.objects.filter(blog=b))  # instances show "new"
    """
    clone = qs._chain()  # type: ignore[attr-defined]
    clone.query.rowsync_populate = True
    return clone  # type: ignore[no-any-return]


class IdentityQuerySet(QuerySet[_M]):
    """The QuerySet of identity-mapped models: adds :meth:`populate_existing`.

    ``get()`` answers from the map for every mapped model, whatever its QuerySet class.
    """

    def populate_existing(self) -> IdentityQuerySet[_M]:
        """Return a copy whose rows overwrite mapped instances' loaded values."""
        return populate_existing(self)  # type: ignore[return-value]
