"""Object names: at most 63 bytes (PostgreSQL's limit) and 63 characters (MariaDB: 64).

PostgreSQL cuts identifiers at 63 *bytes*: a name cut at 63 characters loses its hash
there, and two long non-ASCII table names end up with one object name.
"""

from __future__ import annotations

import pytest
from django.db import connection, models
from django.test.utils import isolate_apps

from rowsync.backends import get_backend, offline_backend
from rowsync.schema import desired_objects_for, install_objects, installed_objects, object_name

LONG_ASCII = "shop_orderline_with_a_rather_long_table_name_for_frozen_name_tests"
#: Names frozen in existing migrations: they must never change.
FROZEN = {
    ("od", "blog_article"): "rowsync_od_blog_article_00ef7",
    ("cb", "blog_article"): "rowsync_cb_blog_article_7dd8d",
    ("cd", "blog_article"): "rowsync_cd_blog_article_f12f3",
    ("cu", "blog_article"): "rowsync_cu_blog_article_73a40",
    ("sd", "blog_article"): "rowsync_sd_blog_article_68a7d",
    ("od", LONG_ASCII): "rowsync_od_shop_orderline_with_a_rather_long_table_name_f_c44eb",
    ("cb", LONG_ASCII): "rowsync_cb_shop_orderline_with_a_rather_long_table_name_f_19abb",
    ("cd", LONG_ASCII): "rowsync_cd_shop_orderline_with_a_rather_long_table_name__b64a4",
    ("cu", LONG_ASCII): "rowsync_cu_shop_orderline_with_a_rather_long_table_name__8e55b",
    ("sd", LONG_ASCII): "rowsync_sd_shop_orderline_with_a_rather_long_table_name__f3c8a",
}

#: Two tables whose names share a long non-ASCII head (each 62 bytes, 32 characters).
NON_ASCII = ("ш" * 30 + "_a", "ш" * 30 + "_b")


def names(table: str) -> dict[str, str]:
    """Return every kind of name rowsync derives from ``table``."""
    found = {
        "od": object_name("od", table, "customer_id"),
        "cb": object_name("cb", table),
        "sd": offline_backend("mysql")._set_trigger_name(table, "customer_id"),
    }
    for vendor in ("sqlite", "postgresql", "mysql"):
        backend = offline_backend(vendor)
        for kind in ("cd", "cu", "cc"):
            found[f"{kind}-{vendor}"] = backend.capture_trigger_name(kind, table)
    return found


def test_ascii_names_are_frozen():
    for table in ("blog_article", LONG_ASCII):
        current = names(table)
        for (kind, frozen_table), name in FROZEN.items():
            if frozen_table == table:
                key = kind if kind in current else f"{kind}-postgresql"
                assert current[key] == name


@pytest.mark.parametrize("kind", sorted(names("x")))
def test_non_ascii_names_fit_63_bytes_and_stay_apart(kind):
    first, second = (names(table)[kind] for table in NON_ASCII)
    for name in (first, second):
        assert len(name.encode()) <= 63, name
        assert name == name.lower()
    assert first != second
    # What PostgreSQL keeps of each name still tells them apart.
    assert first.encode()[:63] != second.encode()[:63]


@pytest.mark.django_db(transaction=True)
def test_long_non_ascii_tables_install_side_by_side():
    with isolate_apps("tests.evapp"):
        built = []
        for table in NON_ASCII:

            class Meta:
                app_label = "evapp"
                db_table = table

            class RowsyncMeta:
                capture = True

            attrs = {
                "__module__": __name__,
                "name": models.CharField(max_length=10),
                "Meta": Meta,
                "RowsyncMeta": RowsyncMeta,
            }
            built.append(type(f"Wide{len(built)}", (models.Model,), attrs))
        backend = get_backend(connection)
        wanted = [obj for model in built for obj in desired_objects_for(model, backend)]
        assert wanted
        with connection.schema_editor() as editor:
            for model in built:
                editor.create_model(model)
        try:
            install_objects(connection, wanted)
            present = installed_objects(connection)
            assert {obj.name for obj in wanted if obj.kind != "table"} <= set(present)
            assert len({obj.name for obj in wanted}) == len(wanted)
        finally:
            from rowsync.schema import uninstall_objects

            uninstall_objects(connection, wanted)
            with connection.schema_editor() as editor:
                for model in built:
                    editor.delete_model(model)
