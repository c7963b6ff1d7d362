from __future__ import annotations

import pytest
from django.db import connection

from rowsync.backends import get_backend


@pytest.mark.django_db
def test_backend_matches_connection():
    backend = get_backend(connection)
    assert backend.vendor == connection.vendor
    from blog.models import Blog, UserInfo

    user = UserInfo.objects.create(username="u")
    Blog.objects.create(title="t", site="s", theme="x", user=user)
    assert Blog.objects.count() == 1
