"""``identity_scope()`` as a decorator: each call of a sync or async function gets its map."""

from __future__ import annotations

import asyncio
import inspect

import rowsync


def test_decorated_function_runs_in_its_own_map():
    outer = rowsync.current_map()

    @rowsync.identity_scope()
    def work(seen):
        seen.append(rowsync.current_map())
        return "done"

    seen = []
    assert work(seen) == "done" and work(seen) == "done"
    assert seen[0] is not outer and seen[1] is not outer and seen[0] is not seen[1]
    assert rowsync.current_map() is outer


def test_decorated_coroutine_runs_in_its_own_map():
    outer = rowsync.current_map()

    @rowsync.identity_scope()
    async def work():
        inside = rowsync.current_map()
        await asyncio.sleep(0)
        assert rowsync.current_map() is inside  # across the await
        return inside

    assert inspect.iscoroutinefunction(work)
    inside = asyncio.run(work())
    assert inside is not outer
    assert rowsync.current_map() is outer
