"""``QuerySet.update()`` under any filter expires exactly the mapped rows it writes.

A filter on literal primary keys names its rows without SQL; any other filter (a
negation, another lookup, a subquery, an expression, several conditions) costs
one ``SELECT`` of the matching keys. Either way the rows written, and only those, show
the new values.
"""

from __future__ import annotations

import pytest
from django.db.models import F, Q

from tests.testapp.models import Article, Category

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows():
    c = Category.objects.create(name="c")
    return [Article.objects.create(name=f"a{i}", category=c, score=i) for i in range(3)]


def _shapes(rows):
    a0, a1, a2 = rows
    return {
        "negated": (Article.objects.exclude(pk=a0.pk), {a1, a2}),
        "or": (Article.objects.filter(Q(pk=a0.pk) | Q(pk=a2.pk)), {a0, a2}),
        "range": (Article.objects.filter(pk__gt=a0.pk), {a1, a2}),
        "subquery": (Article.objects.filter(pk__in=Article.objects.filter(score=1)), {a1}),
        "expression": (Article.objects.filter(pk=F("pk")), {a0, a1, a2}),
        "expression-in-list": (Article.objects.filter(pk__in=[F("pk")]), {a0, a1, a2}),
        "text-keys": (Article.objects.filter(pk__in=[str(a2.pk)]), {a2}),
        "two-conditions": (Article.objects.filter(pk__gt=a0.pk, score__lt=2), {a1}),
        "literal": (Article.objects.filter(pk__in=[a0.pk, a1.pk]), {a0, a1}),
    }


@pytest.mark.parametrize(
    "shape",
    [
        "negated",
        "or",
        "range",
        "subquery",
        "expression",
        "expression-in-list",
        "text-keys",
        "two-conditions",
        "literal",
    ],
)
def test_update_expires_the_rows_it_writes(rows, shape):
    qs, written = _shapes(rows)[shape]
    assert qs.update(note="new") == len(written)
    for obj in rows:
        assert Article.objects.get(pk=obj.pk) is obj  # still the one instance
        assert obj.note == ("new" if obj in written else "")
