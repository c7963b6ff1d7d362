"""Every ROWSYNC_* setting is validated by a system check; no value breaks start-up."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

# Django 6.1's JSONField check asks SQLite whether it supports JSON: allow the query.
pytestmark = pytest.mark.django_db(databases=["default", "other"])

# The ids about settings themselves (W110-W114 and W120 are about the models they select:
# changing ROWSYNC_CAPTURE may rightly uncover a W120).
SETTING_IDS = {f"rowsync.{kind}{n}" for kind in "EW" for n in range(100, 110)} | {
    "rowsync.E004",
    "rowsync.E005",
    "rowsync.E006",
    "rowsync.E060",
    "rowsync.E064",
}


def _messages(**values):
    """Run every check with ``values`` set; return the setting messages."""
    if "ROWSYNC_DB_ON_DELETE" in values:
        # The test settings' exclusions narrow their own selection, not the one tried here.
        values.setdefault("ROWSYNC_DB_ON_DELETE_EXCLUDE", [])
    with override_settings(**values):
        found = checks.run_checks()
    return [m for m in found if m.id in SETTING_IDS]


def _ids(**values):
    return sorted(m.id for m in _messages(**values))


def test_the_test_settings_are_clean():
    assert _messages() == []


@pytest.mark.parametrize(
    ("values", "expected", "suggestion"),
    [
        ({"ROWSYNC_CAPTURE": ["blog.Articel"]}, "rowsync.E101", "'blog.Article'"),
        ({"ROWSYNC_CAPTURE": "__all"}, "rowsync.E101", "'__all__'"),
        ({"ROWSYNC_DB_ON_DELETE": "__al__"}, "rowsync.E101", "'__all__'"),
        ({"ROWSYNC_DB_ON_DELETE": ["odap"]}, "rowsync.E101", "'odapp'"),
        (
            {"ROWSYNC_CAPTURE_EXCLUDE": ["evap"], "ROWSYNC_CAPTURE": "__all__"},
            "rowsync.E101",
            "'evapp'",
        ),
        ({"ROWSYNC_IDENTITY_MAP": ["blgo"]}, "rowsync.E006", "'blog'"),
    ],
)
def test_typos_are_errors_with_a_suggestion(values, expected, suggestion):
    messages = _messages(**values)
    assert [m.id for m in messages] == [expected]
    assert isinstance(messages[0], checks.Error)
    assert f"Did you mean {suggestion}?" in messages[0].hint


def test_unknown_label_without_a_close_name_has_a_plain_hint():
    (message,) = _messages(ROWSYNC_CAPTURE=["zzzzzz.Qqqq"])
    assert message.id == "rowsync.E101" and "Did you mean" not in message.hint


def test_all_inside_a_list_is_explained():
    (message,) = _messages(ROWSYNC_DB_ON_DELETE=["__all__", "odapp"])
    assert message.id == "rowsync.E101" and "alone" in message.hint


@pytest.mark.parametrize("value", [None, True, [1], "", {"blog": True}, 3])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ROWSYNC_CAPTURE", "rowsync.E064"),
        ("ROWSYNC_DB_ON_DELETE", "rowsync.E100"),
        ("ROWSYNC_IDENTITY_MAP", "rowsync.E005"),
        ("ROWSYNC_CAPTURE_EXCLUDE", "rowsync.E100"),
        ("ROWSYNC_DB_ON_DELETE_EXCLUDE", "rowsync.E100"),
        ("ROWSYNC_IDENTITY_MAP_EXCLUDE", "rowsync.E100"),
    ],
)
def test_wrong_types_are_errors_not_tracebacks(name, expected, value):
    messages = _messages(**{name: value})
    assert [m.id for m in messages] == [expected]
    assert name in messages[0].msg and messages[0].hint


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("ROWSYNC_CAPTURE", "rowsync.DeletedRow"),
        ("ROWSYNC_DB_ON_DELETE", "rowsync.CaptureSession"),
        ("ROWSYNC_IDENTITY_MAP", "rowsync.DeletedRow"),
        ("ROWSYNC_CAPTURE", "testapp.NoteProxy"),
        ("ROWSYNC_DB_ON_DELETE", "testapp.NoteProxy"),
    ],
)
def test_naming_a_model_that_cannot_be_selected(name, label):
    messages = _messages(**{name: [label]})
    assert [m.id for m in messages] == ["rowsync.E102"]
    assert label in messages[0].msg


def test_rowsync_app_label_in_a_selection_is_refused():
    assert _ids(ROWSYNC_CAPTURE=["rowsync", "blog.Article"]) == ["rowsync.E102"]


@pytest.mark.parametrize(
    "values",
    [
        {"ROWSYNC_CAPTURE": ["blog.Article"], "ROWSYNC_CAPTURE_EXCLUDE": ["blog"]},
        {"ROWSYNC_DB_ON_DELETE_EXCLUDE": ["odapp.Book"]},
        {"ROWSYNC_IDENTITY_MAP": "__all__", "ROWSYNC_IDENTITY_MAP_EXCLUDE": ["rowsync"]},
    ],
)
def test_exclusion_without_effect_is_a_warning(values):
    messages = _messages(**values)
    assert [m.id for m in messages] == ["rowsync.W103"]
    assert isinstance(messages[0], checks.Warning)


def test_exclusion_with_effect_is_silent():
    assert (
        _messages(ROWSYNC_DB_ON_DELETE=["odapp"], ROWSYNC_DB_ON_DELETE_EXCLUDE=["odapp.Book"])
        == []
    )


@pytest.mark.parametrize(
    ("value", "suggestion"), [("on-commit", "'on_commit'"), ("workers", "'worker'"), (None, None)]
)
def test_unknown_delivery_mode(value, suggestion):
    (message,) = _messages(ROWSYNC_DELIVERY=value)
    assert message.id == "rowsync.E060"
    assert (f"Did you mean {suggestion}?" in message.hint) == (suggestion is not None)


@pytest.mark.parametrize(
    "name", ["ROWSYNC_AUTODETECTOR", "ROWSYNC_DB_ON_DELETE_COUNTS", "ROWSYNC_ADMIN"]
)
@pytest.mark.parametrize("value", ["no", 0, None])
def test_switches_must_be_bools(name, value):
    messages = _messages(**{name: value})
    assert [m.id for m in messages] == ["rowsync.E105"]
    assert name in messages[0].msg


def test_unknown_setting_name_is_a_warning_with_a_suggestion():
    messages = _messages(ROWSYNC_CAPTRUE="__all__")
    assert [m.id for m in messages] == ["rowsync.W106"]
    assert "Did you mean 'ROWSYNC_CAPTURE'?" in messages[0].hint


def test_all_inside_the_identity_map_list_is_explained():
    (message,) = _messages(ROWSYNC_IDENTITY_MAP=["__all__", "blog"])
    assert message.id == "rowsync.E006" and "alone" in message.hint


@pytest.mark.parametrize("name", ["ROWSYNC_CAPTURE", "ROWSYNC_IDENTITY_MAP"])
def test_a_set_of_labels_is_accepted(name):
    assert _messages(**{name: {"blog"}}) == []
