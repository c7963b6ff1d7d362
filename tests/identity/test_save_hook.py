"""save() maps the instance without a model-signal receiver of rowsync's."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save

from tests.testapp.models import Article, Category, Note

pytestmark = pytest.mark.django_db


def test_rowsync_connects_no_post_save_receiver():
    for model in (Category, Article, Note):
        assert not post_save.has_listeners(model)


def test_a_post_save_receiver_sees_the_saved_instance_mapped():
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(Category.objects.get(pk=instance.pk) is instance)

    post_save.connect(receiver, sender=Category, weak=False)
    try:
        created = Category.objects.create(name="c")
        created.name = "d"
        created.save()
    finally:
        post_save.disconnect(receiver, sender=Category)
    assert seen == [True, True]
    assert Category.objects.get(pk=created.pk) is created
