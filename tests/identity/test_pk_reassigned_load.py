"""A deferred field of an instance whose pk was reassigned loads from the row it was read from.

``obj.pk = new`` before a ``save()`` that inserts row ``new`` is how Django copies a row;
the fields the instance deferred are values of the original row, which any access loads
before the new row exists.
"""

from __future__ import annotations

import pytest

from tests.testapp.models import Article

pytestmark = pytest.mark.django_db


def test_deferred_field_after_pk_reassignment_reads_the_original_row():
    source = Article.objects.create(name="source", note="kept note", score=3)
    pk = source.pk
    del source
    partial = Article.objects.only("name").get(pk=pk)
    assert partial.get_deferred_fields() >= {"note", "score"}
    partial.pk = pk + 1000
    assert partial.note == "kept note"  # the original row, not the missing row pk + 1000
    assert partial.pk == pk + 1000
