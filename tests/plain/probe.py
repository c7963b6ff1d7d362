"""Run a few ORM operations in a fresh project and print what Django did, as JSON.

``python -m tests.plain.probe DIR [SETTINGS_JSON]``: ``DIR`` holds the SQLite database;
``SETTINGS_JSON`` adds settings (``{"INSTALLED_APPS_EXTRA": ["rowsync"], ...}``). The
tests run it with and without rowsync and compare the two reports.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
from typing import Any


def _configure(folder: str, extra: dict[str, Any]) -> None:
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "django.contrib.auth", "tests.plain.plainapp"]
    apps += extra.pop("INSTALLED_APPS_EXTRA", [])
    settings.configure(
        SECRET_KEY="plain",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=apps,
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(folder, "plain.sqlite3"),
            }
        },
        **extra,
    )


def _package_of(filename: str) -> str:
    for package in ("rowsync", "django"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        folder = os.path.dirname(spec.origin)
        if filename.startswith(folder + os.sep):
            return f"{package}/{os.path.relpath(filename, folder)}"
    return filename


def _name(obj: Any) -> str:
    func = getattr(obj, "__func__", obj)
    code = getattr(func, "__code__", None)
    if code is not None:
        # The code object, not __qualname__: functools.wraps copies the latter.
        return f"{_package_of(code.co_filename)}:{code.co_qualname}"
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', type(obj))}"


def hooks() -> dict[str, str]:
    """Return where each Django function rowsync could wrap comes from."""
    from django.core.management.commands import makemigrations, migrate
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.sqlite3.base import DatabaseWrapper
    from django.db.backends.sqlite3.schema import DatabaseSchemaEditor
    from django.db.models import Manager, Model, QuerySet, deletion, query
    from django.db.models.deletion import Collector
    from django.db.models.fields.related import ForeignKey
    from django.dispatch import Signal

    found = {
        "Collector.delete": _name(Collector.delete),
        "Collector.collect": _name(Collector.collect),
        "ForeignKey._check_on_delete": _name(ForeignKey._check_on_delete),
        "Model.from_db": _name(Model.__dict__["from_db"]),
        "Model.refresh_from_db": _name(Model.refresh_from_db),
        "Model.delete": _name(Model.delete),
        "Manager.get": _name(getattr(Manager, "get", None)),
        "ModelIterable.__iter__": _name(query.ModelIterable.__iter__),
        "prefetch_related_objects": _name(query.prefetch_related_objects),
        "BaseDatabaseWrapper.rollback": _name(BaseDatabaseWrapper.rollback),
        "sqlite.execute_sql_flush": _name(DatabaseWrapper.ops_class.execute_sql_flush),
        "sqlite._remake_table": _name(DatabaseSchemaEditor._remake_table),
        "sqlite.SchemaEditorClass": _name(DatabaseWrapper.SchemaEditorClass),
        "makemigrations.autodetector": _name(makemigrations.Command.autodetector),
        "migrate.autodetector": _name(migrate.Command.autodetector),
        "SKIP_COLLECTION": type(getattr(deletion, "SKIP_COLLECTION", None)).__name__,
    }
    for name in ("get", "update", "delete", "bulk_create", "_raw_delete", "_update"):
        found[f"QuerySet.{name}"] = _name(getattr(QuerySet, name))
    from django.db.models import signals

    for name in ("post_delete", "pre_delete", "post_migrate", "post_save"):
        signal: Signal = getattr(signals, name)
        found[f"receivers.{name}"] = str(len(signal.receivers))
    from django.core import signals as core_signals

    for name in ("request_started", "request_finished"):
        found[f"receivers.{name}"] = str(len(getattr(core_signals, name).receivers))
    return found


def patches() -> list[str]:
    """Return ``feature: target`` for each patch rowsync applied (None without rowsync)."""
    from django.apps import apps

    if not apps.is_installed("rowsync"):
        return []
    import rowsync

    return sorted(f"{p.feature}: {p.target}" for p in rowsync.patches_applied())


def admin_models() -> list[str]:
    """Return the labels of the models registered on ``admin.site`` (none without the admin)."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return []
    from django.contrib import admin

    return sorted(model._meta.label_lower for model in admin.site._registry)


def _run(action: Any) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        result = action()
    return {"result": result, "sql": [q["sql"] for q in ctx.captured_queries]}


def operations() -> dict[str, Any]:
    """Run the operations and return ``{name: {"result": ..., "sql": [...]}}``."""
    from django.apps import apps

    from tests.plain.plainapp.models import Captured, Customer, Order, Tag

    report: dict[str, Any] = {}
    customer = Customer.objects.create(name="c")
    orders = [Order.objects.create(customer=customer) for _ in range(3)]
    tag = Tag.objects.create(name="t")
    tag.orders.add(*orders)
    Captured.objects.create(name="x")
    report["m2m_remove"] = _run(lambda: tag.orders.remove(orders[0]))
    report["delete_nothing"] = _run(lambda: Order.objects.filter(pk=-1).delete())
    report["delete_order"] = _run(lambda: orders[1].delete())
    if apps.is_installed("tests.plain.plainapp") and hasattr(
        sys.modules["tests.plain.plainapp.models"], "Invoice"
    ):
        from tests.plain.plainapp.models import Invoice, InvoiceLine

        other = Customer.objects.create(name="d")
        for _ in range(2):
            invoice = Invoice.objects.create(customer=other)
            InvoiceLine.objects.create(invoice=invoice)
            InvoiceLine.objects.create(invoice=invoice)
        report["db_cascade"] = _run(lambda: other.delete())
        report["db_cascade_left"] = [Invoice.objects.count(), InvoiceLine.objects.count()]
    report["delete_customer"] = _run(lambda: Customer.objects.all().delete())
    report["captured_delete"] = _run(lambda: Captured.objects.all().delete())
    return report


def main() -> None:
    folder = sys.argv[1]
    extra = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    _configure(folder, extra)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0)
    out = io.StringIO()
    call_command("makemigrations", "plainapp", dry_run=True, verbosity=3, stdout=out)
    # The header carries the time of the run: leave it out of the comparison.
    migration = "".join(
        line for line in out.getvalue().splitlines(True) if "Generated by Django" not in line
    )
    report = {
        "hooks": hooks(),
        "operations": operations(),
        "makemigrations": migration,
        "patches": patches(),
        "admin": admin_models(),
    }
    print(json.dumps(report, default=list))


if __name__ == "__main__":
    main()
