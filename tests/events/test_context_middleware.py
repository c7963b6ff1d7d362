"""``ActorContextMiddleware``: the request's user, path and method travel with its deletes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models.signals import post_delete
from django.http import HttpResponse
from django.test import RequestFactory

from blog.models import UserInfo
from rowsync.events.context import (
    ActorContextMiddleware,
    actor_context,
    current_context,
    event_context,
)
from tests.evapp.models import Author, Book

pytestmark = pytest.mark.django_db(transaction=True)


def _delete_in_request(user):
    """Delete an author (the database cascades to its book) inside a request."""
    author = Author.objects.create(name="a")
    Book.objects.create(author=author, title="b")
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(event_context())

    def view(request):
        author.delete()
        return HttpResponse("ok")

    request = RequestFactory().post("/authors/1/delete")
    if user is not None:
        request.user = user
    post_delete.connect(receiver, sender=Book, weak=False)
    try:
        response = ActorContextMiddleware(view)(request)
    finally:
        post_delete.disconnect(receiver, sender=Book)
    assert response.content == b"ok"
    return seen


def test_signed_in_user_and_path_reach_the_receiver():
    user = UserInfo.objects.create(username="editor")
    assert _delete_in_request(user) == [
        {"user_id": user.pk, "path": "/authors/1/delete", "method": "POST"}
    ]


@pytest.mark.parametrize("user", [None, AnonymousUser()], ids=["no-auth", "anonymous"])
def test_anonymous_request_records_no_user(user):
    assert _delete_in_request(user) == [
        {"user_id": None, "path": "/authors/1/delete", "method": "POST"}
    ]


def test_current_context_nests_and_ends_with_the_block():
    assert current_context() is None
    with actor_context(user_id=1):
        with actor_context(reason="cleanup"):
            assert current_context() == {"user_id": 1, "reason": "cleanup"}
        assert current_context() == {"user_id": 1}
    assert current_context() is None
