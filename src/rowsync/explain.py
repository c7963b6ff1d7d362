"""``manage.py rowsync explain app.Model PK``: the deletion graph of one row, before deleting it.

For every relation the delete of the row reaches, it reports who acts (the database, through
rowsync's or Django's ``DB_*`` objects, or Django's Collector in Python), what happens to the
rows (deleted, set to NULL, set to a value, protected, restricted, left alone), how many rows,
and which ``pre_delete`` / ``post_delete`` / ``post_delete_batch`` receivers each model has,
with the delivery mode rowsync would use for rows the database deletes. Nothing is written:
it only counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models import signals
from django.db.models.deletion import Collector
from django.dispatch import Signal

from rowsync.events.capture import is_captured, reverse_relations
from rowsync.events.plan import model_mode
from rowsync.events.receivers import mode_of
from rowsync.events.signals import post_delete_batch
from rowsync.ondelete.collection import leaves_to_database
from rowsync.ondelete.plan import Behaviour, field_behaviour, model_plan

HELP = (
    "Show what deleting one row does: what the database removes or nulls, what Django's "
    "Collector does, which receivers run and in which delivery mode, with row counts."
)

# Rows followed per relation at most, so that a huge graph is counted, not loaded.
MAX_KEYS = 10_000
MAX_DEPTH = 25


@dataclass
class Step:
    """One relation reached by the delete.

    Attributes:
        depth: Distance from the deleted row (1 = a relation pointing at it).
        relation: ``app.Model.field`` of the foreign key.
        action: ``CASCADE``, ``SET_NULL``, ``SET_DEFAULT``, ``SET``, ``PROTECT``,
            ``RESTRICT``, ``DO_NOTHING``.
        actor: ``database`` or ``django`` (Django's Collector, in Python).
        rows: Rows of the relation that point at the rows being deleted.
        collected: Whether Django's Collector still loads these rows on an ORM delete
            (and sends their signals itself): always for actor ``django``; for a
            relation ``ROWSYNC_DB_ON_DELETE`` or a chain promotes, unless the Collector
            leaves it to the database (:mod:`rowsync.ondelete.collection`); never for
            ``DB_*`` values.
    """

    depth: int
    relation: str
    action: str
    actor: str
    rows: int
    collected: bool = True


@dataclass
class ModelReport:
    """What one model of the graph loses and who hears about it.

    Attributes:
        model: ``app.Model``.
        deleted: Rows deleted (by the database or Django).
        by_database: Of those, rows the database deletes (Django sends no signal for them).
        changed: Rows updated by SET_NULL / SET_DEFAULT / SET.
        receivers: ``{signal name: [receiver names]}``.
        captured: Whether rowsync records this table's rows the database deletes.
        delivery: The delivery mode of database-deleted rows (``-`` when not captured).
    """

    model: str
    deleted: int = 0
    by_database: int = 0
    changed: int = 0
    receivers: dict[str, list[str]] = field(default_factory=dict)
    captured: bool = False
    delivery: str = "-"


def add_arguments(parser: CommandParser) -> None:
    """Add ``label``, ``pk``, ``--database`` and ``--json``."""
    parser.add_argument("label", help="The model, as app_label.ModelName.")
    parser.add_argument("pk", help="The primary key of the row.")
    parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")


def _model(label: str) -> type[models.Model]:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise CommandError(f"unknown model {label!r}: use app_label.ModelName") from exc


def _name(receiver: Any) -> str:
    target = getattr(receiver, "__func__", receiver)
    module = getattr(target, "__module__", "?")
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


#: The signals a delete sends, by the name ``explain`` shows.
_DELETE_SIGNALS: tuple[tuple[str, Signal], ...] = (
    ("pre_delete", signals.pre_delete),
    ("post_delete", signals.post_delete),
    ("post_delete_batch", post_delete_batch),
)


def _receivers(model: type[models.Model]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, signal in _DELETE_SIGNALS:
        sync, asynchronous = signal._live_receivers(model)
        names = [_name(r) for r in [*sync, *asynchronous]]
        if names:
            found[name] = names
    return found


def _delivery(model: type[models.Model]) -> tuple[bool, str]:
    if not is_captured(model):
        return False, "-"
    default = model_mode(model)
    post = [
        *signals.post_delete._live_receivers(model)[0],
        *post_delete_batch._live_receivers(model)[0],
    ]
    modes = sorted({mode_of(r, default) for r in post}) or [default]
    return True, "+".join(modes)


def _behaviour(fk: Any) -> tuple[str, str, Behaviour | None]:
    behaviour: Behaviour | None = field_behaviour(fk) or model_plan(fk.model).behaviours.get(fk)
    if behaviour is not None and behaviour.supported:
        return behaviour.operation.upper(), "database", behaviour
    name = getattr(fk.remote_field.on_delete, "__name__", "SET")
    return name.upper(), "django", None


class _Walk:
    """Breadth-first walk of the delete, counting rows per relation."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.steps: list[Step] = []
        self.reports: dict[str, ModelReport] = {}
        self.seen: set[tuple[str, object]] = set()

    def report(self, model: type[models.Model]) -> ModelReport:
        label = model._meta.label
        if label not in self.reports:
            captured, mode = _delivery(model)
            self.reports[label] = ModelReport(
                label, receivers=_receivers(model), captured=captured, delivery=mode
            )
        return self.reports[label]

    def delete(
        self,
        model: type[models.Model],
        pks: list[Any],
        depth: int,
        actor: str,
        collected: bool = True,
    ) -> None:
        concrete = model._meta.concrete_model or model
        fresh = [pk for pk in pks if (concrete._meta.label, pk) not in self.seen]
        if not fresh or depth > MAX_DEPTH:
            return
        self.seen.update((concrete._meta.label, pk) for pk in fresh)
        report = self.report(model)
        report.deleted += len(fresh)
        if actor == "database":
            report.by_database += len(fresh)
        for parent, link in concrete._meta.parents.items():
            if isinstance(link, models.Field):  # MTI: Django deletes the parent rows too
                rows = list(
                    concrete._base_manager.using(self.using)
                    .filter(pk__in=fresh)
                    .values_list(link.attname, flat=True)
                )
                self.delete(parent, rows, depth, actor, collected)
        for fk in (rel.field for rel in reverse_relations(concrete)):
            self.follow(fk, fresh, depth + 1, collected)

    def follow(self, fk: Any, pks: list[Any], depth: int, collected: bool = True) -> None:
        """Count ``fk``'s rows pointing at ``pks``; ``collected``: Django holds ``pks``."""
        related = fk.model
        target = fk.target_field.attname if hasattr(fk, "target_field") else "pk"
        values = pks
        if target != fk.remote_field.model._meta.pk.attname:
            values = list(
                fk.remote_field.model._base_manager.using(self.using)
                .filter(pk__in=pks)
                .values_list(target, flat=True)
            )
        rows = related._base_manager.using(self.using).filter(**{f"{fk.attname}__in": values})
        count = rows.count()
        if count == 0:
            return
        action, actor, behaviour = _behaviour(fk)
        if behaviour is not None and behaviour.python_skips:
            collected = False  # a DB_* value: the Collector never looks
        elif collected and behaviour is not None:
            collected = not leaves_to_database(Collector(using=self.using), [fk])
        self.steps.append(
            Step(depth, f"{related._meta.label}.{fk.name}", action, actor, count, collected)
        )
        if action == "CASCADE":
            keys = list(rows.values_list("pk", flat=True)[:MAX_KEYS])
            self.delete(related, keys, depth, actor, collected)
        elif action.startswith("SET"):
            self.report(related).changed += count


def explain(model: type[models.Model], pk: Any, using: str) -> dict[str, Any]:
    """Return the deletion graph of ``model``'s row ``pk`` as plain data.

    Raises:
        CommandError: The row does not exist.
    """
    try:
        obj = model._base_manager.using(using).get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise CommandError(f"{model._meta.label} has no row with pk {pk!r} in {using!r}") from exc
    walk = _Walk(using)
    walk.delete(model, [obj.pk], 0, "django")
    return {
        "model": model._meta.label,
        "pk": str(obj.pk),
        "database": using,
        "steps": [asdict(s) for s in walk.steps],
        "models": [asdict(r) for r in walk.reports.values()],
    }


def _table(graph: dict[str, Any]) -> Iterator[str]:
    yield f"Deleting {graph['model']} pk={graph['pk']} on {graph['database']!r}:"
    for step in graph["steps"]:
        indent = "  " * step["depth"]
        # A promoted relation the Collector still loads on ORM deletes (signals by Django).
        python = (
            " (Collector loads them)" if step["actor"] == "database" and step["collected"] else ""
        )
        yield (
            f"{indent}{step['relation']}: {step['action']} by {step['actor']}{python}, "
            f"{step['rows']} row(s)"
        )
    yield ""
    yield f"{'model':<32} {'deleted':>8} {'changed':>8}  captured  delivery  receivers"
    for report in graph["models"]:
        receivers = "; ".join(
            f"{signal}: {', '.join(names)}" for signal, names in report["receivers"].items()
        )
        yield (
            f"{report['model']:<32} {report['deleted']:>8} {report['changed']:>8}  "
            f"{'yes' if report['captured'] else 'no':<8}  {report['delivery']:<8}  "
            f"{receivers or '-'}"
        )
    for report in graph["models"]:
        if report["by_database"] and report["receivers"] and not report["captured"]:
            yield (
                f"warning: the database deletes {report['by_database']} {report['model']} "
                "row(s) and nothing sends their signals; capture the model "
                "(ROWSYNC_CAPTURE or RowsyncMeta.capture) to keep its receivers running."
            )


def handle(command: BaseCommand, **options: Any) -> None:
    """Print the deletion graph of one row."""
    using = options.get("database") or DEFAULT_DB_ALIAS  # the command checked the alias
    graph = explain(_model(options["label"]), options["pk"], using)
    if options.get("json"):
        command.stdout.write(json.dumps(graph, indent=2))
        return
    for line in _table(graph):
        command.stdout.write(line)
