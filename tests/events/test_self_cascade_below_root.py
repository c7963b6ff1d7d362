"""A self-referencing cascade reached through another table is captured at every depth.

Deleting a forest removes its top branch; the database then removes the sub-branches
(self-referencing ``DB_CASCADE``) at every depth and the leaves on them. Every removed row
gets its ``post_delete`` once, on every engine (MariaDB records the rows before InnoDB's
cascade, so its walk must follow the self-reference to the bottom).
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from tests.evapp.models import Branch, Forest, Leaf

pytestmark = pytest.mark.django_db


def make_forest(depth: int) -> tuple[Forest, list[Branch], list[Leaf]]:
    forest = Forest.objects.create(name="f")
    branches = [Branch.objects.create(forest=forest, name="b0")]
    for level in range(1, depth):
        branches.append(Branch.objects.create(parent=branches[-1], name=f"b{level}"))
    leaves = [Leaf.objects.create(branch=b, name=f"leaf of {b.name}") for b in branches]
    return forest, branches, leaves


def test_orm_delete_signals_every_branch_and_leaf_of_the_subtree(deleted):
    forest, branches, leaves = make_forest(5)
    with transaction.atomic():
        forest.delete()
    assert deleted.keys("Branch") == sorted(("Branch", b.pk) for b in branches)
    assert deleted.keys("Leaf") == sorted(("Leaf", leaf.pk) for leaf in leaves)
    assert not Branch.objects.exists() and not Leaf.objects.exists()


def test_raw_delete_records_every_branch_and_leaf_once(deleted):
    from rowsync.events.worker import Worker

    forest, branches, leaves = make_forest(4)
    with transaction.atomic(), connection.cursor() as cursor:
        table = connection.ops.quote_name(Forest._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [forest.pk])
    Worker(using="default").run(drain=True)
    assert deleted.keys("Branch") == sorted(("Branch", b.pk) for b in branches)
    assert deleted.keys("Leaf") == sorted(("Leaf", leaf.pk) for leaf in leaves)


def test_children_of_a_self_referencing_root_are_signalled_for_the_whole_subtree(deleted):
    from tests.evapp.models import Node, NodeNote

    root = Node.objects.create(name="root")
    nodes = [root]
    for level in range(1, 4):
        nodes.append(Node.objects.create(parent=nodes[-1], name=f"n{level}"))
    notes = [NodeNote.objects.create(node=n, text=f"note of {n.name}") for n in nodes]
    with transaction.atomic(), connection.cursor() as cursor:
        table = connection.ops.quote_name(Node._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [root.pk])
    from rowsync.events.worker import Worker

    Worker(using="default").run(drain=True)
    assert deleted.keys("Node") == sorted(("Node", n.pk) for n in nodes)
    assert deleted.keys("NodeNote") == sorted(("NodeNote", n.pk) for n in notes)
