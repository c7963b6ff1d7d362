"""Each ASGI request gets a map of its own (Django 5.2 runs request_started in other tasks)."""

from __future__ import annotations

import asyncio

from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.urls import path

import rowsync

SEEN: list[object] = []


async def view(request):
    SEEN.append(rowsync.current_map())
    return HttpResponse("ok")


urlpatterns = [path("m/", view)]


async def _get(app):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/m/",
        "raw_path": b"/m/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
    }
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = []

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]


def test_concurrent_asgi_requests_never_share_the_servers_map(settings):
    settings.ROOT_URLCONF = __name__
    SEEN.clear()

    async def server():
        app = ASGIHandler()
        outer = rowsync.current_map()  # the server's own context already has a map
        statuses = await asyncio.gather(_get(app), _get(app))
        return outer, statuses

    outer, statuses = asyncio.run(server())
    assert statuses == [200, 200]
    assert len(SEEN) == 2
    assert SEEN[0] is not outer and SEEN[1] is not outer
    assert SEEN[0] is not SEEN[1]
