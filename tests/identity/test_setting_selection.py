"""Which models ``ROWSYNC_IDENTITY_MAP`` maps: ``"__all__"``, app labels, model labels."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings

from blog.models import Article
from rowsync.identity.registry import selected_by_setting


@pytest.mark.parametrize("value", ["__all__", ["contenttypes"]])
def test_wide_selections_leave_django_cached_content_types_alone(value):
    # Django's ContentTypeManager keeps them in a process-wide cache of its own.
    with override_settings(ROWSYNC_IDENTITY_MAP=value):
        assert not selected_by_setting(ContentType)


def test_naming_content_types_maps_them():
    with override_settings(ROWSYNC_IDENTITY_MAP=["contenttypes.ContentType"]):
        assert selected_by_setting(ContentType)


def test_all_still_maps_other_models():
    with override_settings(ROWSYNC_IDENTITY_MAP="__all__"):
        assert selected_by_setting(Article)
