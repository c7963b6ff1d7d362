"""The operator console with Django's test client: permissions, actions, confirmations."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.db import connection
from django.test import override_settings

from rowsync.backends import get_backend
from rowsync.console import register_if_enabled
from rowsync.models import DeadLetter, DeletedRow
from tests.console.support import ADMIN, BACKLOG, DEAD, EVENTS, dead, event, lease, staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admin():
    with ADMIN:
        yield


def login(client, django_user_model, *verbs):
    client.force_login(staff(django_user_model, "op_" + "_".join(verbs), *verbs))
    return client


def action_names(response):
    form = response.context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices if name]


def run(client, url, action, events, *, confirm, across=False):
    data = {"action": action, "_selected_action": [e.pk for e in events], "index": 0}
    if across:
        data["select_across"] = "1"
    if confirm:
        data.pop("index")
        data["post"] = "yes"
    return client.post(url, data)


def test_autodiscover_registers_the_console_and_the_setting_switches_it_off():
    assert admin.site.is_registered(DeletedRow) and admin.site.is_registered(DeadLetter)
    site = AdminSite(name="switched_off")
    with override_settings(ROWSYNC_ADMIN=False):
        assert register_if_enabled(site) is False
    assert not site.is_registered(DeletedRow)
    assert register_if_enabled(site) is True
    assert site.is_registered(DeletedRow) and site.is_registered(DeadLetter)


def test_view_permission_shows_everything_read_only(client, django_user_model):
    one = event(row={"nid": 1, "title": "Hello"}, context={"user": "editor"})
    login(client, django_user_model, "view")
    page = client.get(EVENTS)
    assert page.status_code == 200 and action_names(page) == []
    assert client.get(DEAD).status_code == 200
    detail = client.get(f"{EVENTS}{one.pk}/change/")
    html = detail.content.decode()
    assert (
        "&quot;title&quot;: &quot;Hello&quot;" in html
        and "&quot;user&quot;: &quot;editor&quot;" in html
    )
    assert 'name="_save"' not in html and "/delete/" not in html
    assert client.get(f"{EVENTS}add/").status_code == 403
    assert client.post(f"{EVENTS}{one.pk}/change/", {"pk_text": "9"}).status_code == 403
    assert client.get(f"{EVENTS}{one.pk}/delete/").status_code == 403
    # An action posted anyway is refused: nothing changes.
    run(client, EVENTS, "discard", [one], confirm=True)
    assert DeletedRow.objects.filter(pk=one.pk).exists()


def test_no_view_permission_no_page(client, django_user_model):
    login(client, django_user_model, "retry")
    assert client.get(EVENTS).status_code == 403
    assert client.get(BACKLOG).status_code == 403


def test_actions_follow_the_retry_and_discard_permissions(client, django_user_model):
    event()
    retry = login(client, django_user_model, "view", "retry")
    assert action_names(retry.get(EVENTS)) == ["retry_now", "replay"]
    assert action_names(retry.get(DEAD)) == ["replay", "requeue_matching"]
    # Django's own delete permission does not discard events.
    login(client, django_user_model, "view", "delete")
    assert action_names(client.get(EVENTS)) == []
    login(client, django_user_model, "view", "discard")
    assert action_names(client.get(EVENTS)) == ["discard"]


def test_retry_now_confirms_the_count_and_never_steals_a_live_lease(client, django_user_model):
    future = lease(3600)
    waiting = event(next_attempt_at=future, attempts=2)
    held = event(claimed_by="worker-1", claimed_until=lease(120), next_attempt_at=future)
    expired = event(claimed_by="worker-2", claimed_until=lease(-60), next_attempt_at=future)
    letter = dead()
    login(client, django_user_model, "view", "retry")
    listed = client.get(EVENTS).content.decode()
    assert "worker-1 until" in listed and "search index down" in listed
    chosen = [waiting, held, expired, letter]
    page = run(client, EVENTS, "retry_now", chosen, confirm=False)
    assert page.status_code == 200
    assert page.context["count"] == 3
    html = page.content.decode()
    assert "Make 3 pending events due at once?" in html
    assert "1 event held by a running worker&#x27;s lease" in html
    assert DeletedRow.objects.get(pk=waiting.pk).next_attempt_at == future  # not yet
    done = run(client, EVENTS, "retry_now", chosen, confirm=True)
    assert done.status_code == 302
    rows = {e.pk: e for e in DeletedRow.objects.all()}
    assert all(rows[e.pk].next_attempt_at < future for e in (waiting, held, expired))
    kept = rows[held.pk]
    assert (kept.claimed_by, kept.claimed_until) == ("worker-1", held.claimed_until)
    assert (rows[expired.pk].claimed_by, rows[expired.pk].claimed_until) == ("", None)
    assert rows[waiting.pk].attempts == 2
    assert rows[letter.pk].status == DeletedRow.Status.DEAD


def test_replay_requeues_the_selected_dead_letters(client, django_user_model):
    letters = [dead(pk_text=str(i)) for i in range(3)]
    login(client, django_user_model, "view", "retry")
    page = run(client, DEAD, "replay", letters[:2], confirm=False)
    assert page.context["count"] == 2
    assert "Put 2 dead letters back in the worker&#x27;s queue?" in page.content.decode()
    run(client, DEAD, "replay", letters[:2], confirm=True)
    states = dict(DeletedRow.objects.values_list("pk", "status"))
    assert [states[e.pk] for e in letters] == ["P", "P", "X"]
    requeued = DeletedRow.objects.get(pk=letters[0].pk)
    assert (requeued.attempts, requeued.next_attempt_at, requeued.claimed_by) == (0, None, "")


def test_discard_confirms_then_deletes(client, django_user_model):
    kept, gone = event(pk_text="1"), event(pk_text="2")
    login(client, django_user_model, "view", "discard")
    page = run(client, EVENTS, "discard", [gone], confirm=False)
    assert page.context["count"] == 1 and "Discard 1 event?" in page.content.decode()
    assert DeletedRow.objects.count() == 2
    done = run(client, EVENTS, "discard", [gone], confirm=True)
    assert done.status_code == 302
    assert list(DeletedRow.objects.values_list("pk", flat=True)) == [kept.pk]


def test_nothing_to_do_shows_no_confirmation(client, django_user_model):
    letter = dead()
    login(client, django_user_model, "view", "retry")
    response = run(client, EVENTS, "retry_now", [letter], confirm=False)
    assert response.status_code == 302
    assert DeletedRow.objects.get(pk=letter.pk).next_attempt_at is None


def test_filters_and_search_narrow_the_dead_letters(client, django_user_model):
    dead(pk_text="1")
    dead(pk_text="2", model_label="blog.comment", table_name="blog_comment")
    dead(pk_text="3", last_error="", attempts=1)
    event(pk_text="4")
    login(client, django_user_model, "view")

    def count(url, query):
        return client.get(f"{url}?{query}").context["cl"].result_count

    assert count(DEAD, "") == 3
    assert count(DEAD, "model=blog.comment") == 1
    assert count(DEAD, "error=yes") == 2
    assert count(DEAD, "error=no&attempts=1") == 1
    assert count(DEAD, "attempts=5%2B&age=1h") == 2
    assert count(DEAD, "age=old") == count(DEAD, "age=7d") == count(DEAD, "age=1d") == 0
    assert count(DEAD, "attempts=0") == count(DEAD, "attempts=2-4") == 0
    assert count(DEAD, "q=index+down") == 2
    assert count(EVENTS, "status__exact=P") == 1
    assert count(EVENTS, "op__exact=D") == 4


def test_backlog_lists_pending_inbox_and_dead_per_model(client, django_user_model):
    from tests.events.test_inbox import make_articles, raw_delete

    old = event()
    DeletedRow.objects.filter(pk=old.pk).update(created_at=lease(-7200))  # auto_now_add
    dead(model_label="blog.comment", table_name="blog_comment")
    raw_delete([a.pk for a in make_articles(2)])
    login(client, django_user_model, "view")
    events_page = client.get(EVENTS)
    assert BACKLOG in events_page.content.decode()
    page = client.get(BACKLOG)
    rows = {r["model_label"]: r for r in page.context["rows"]}
    article = rows["blog.article"]
    if get_backend(connection).capture_inbox:
        assert (article["pending"], article["inbox"]) == (1, 2)
    else:  # MariaDB's triggers write into the event table
        assert (article["pending"], article["inbox"]) == (3, 0)
    assert article["oldest_pending"].startswith("2")  # "2 hours"
    assert (rows["blog.comment"]["dead"], rows["blog.comment"]["pending"]) == (1, 0)
    assert page.context["totals"]["dead"] == 1
    assert article["pending_url"] == f"{EVENTS}?model=blog.article&status__exact=P"
    assert "Event backlog" in page.content.decode()
