"""The Django-suite leg's gate: expected lists only shrink, ``--update`` keeps reasons."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "django_suite.py"


@pytest.fixture(scope="module")
def ds():
    spec = importlib.util.spec_from_file_location("django_suite_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture
def leg(ds, tmp_path, monkeypatch):
    monkeypatch.setattr(ds, "EXPECTED", tmp_path / "expected")
    return ds.Leg(tmp_path / "venv", "sqlite", "identity", django="5.2.3", results_dir=tmp_path)


def ran(**outcomes):
    return {
        "state": "ran",
        "outcomes": {k.replace("__", "."): v for k, v in outcomes.items()},
        "details": {k.replace("__", "."): f"AssertionError: {k}" for k in outcomes},
    }


def write(leg, text):
    leg.expected_file.parent.mkdir(parents=True, exist_ok=True)
    leg.expected_file.write_text(text)


def test_expected_file_is_named_by_series_database_and_config(leg, tmp_path):
    assert leg.expected_file == tmp_path / "expected" / "5.2-sqlite-identity.txt"


def test_listed_failures_pass_the_leg(ds, leg):
    write(leg, "# header\nm__a # identity returns the same object\n".replace("__", "."))
    ds.compare(leg, ran(m__a="fail", m__b="pass", m__c="skip"), complete=True)
    assert (leg.status, leg.new, leg.fixed, leg.expected) == ("ok", [], [], 1)
    assert (leg.ran, leg.passed, leg.failures, leg.skipped) == (2, 1, 1, 1)


def test_new_failure_fails_the_leg(ds, leg):
    ds.compare(leg, ran(m__a="error", m__b="upass", m__c="xfail"), complete=True)
    assert leg.status == "FAILED"
    assert leg.new == ["m.a", "m.b"]
    assert "new failure: m.a: AssertionError: m__a" in leg.message


def test_listed_failure_that_passes_fails_the_leg(ds, leg):
    write(leg, "m.a # reason\nm.gone # reason\n")
    ds.compare(leg, ran(m__a="pass"), complete=True)
    assert (leg.status, leg.fixed) == ("FAILED", ["m.a", "m.gone"])


def test_listed_test_outside_a_partial_run_is_not_judged(ds, leg):
    write(leg, "m.a # reason\nm.gone # reason\n")
    ds.compare(leg, ran(m__a="fail"), complete=False)
    assert (leg.status, leg.fixed) == ("ok", [])


def test_cannot_start_is_a_failure_unless_listed(ds, leg):
    refused = {"state": "cannot start", "reason": "SystemCheckError: x: (rowsync.E033) y"}
    ds.compare(leg, refused, complete=True)
    assert (leg.status, leg.new) == ("CANNOT START", ["CANNOT-START"])
    assert "rowsync.E033" in leg.message
    write(leg, "CANNOT-START # refused\n")
    ds.compare(leg, refused, complete=True)
    assert (leg.status, leg.unexpected) == ("cannot start (expected)", 0)


def test_a_listed_cannot_start_that_starts_fails_the_leg(ds, leg):
    write(leg, "CANNOT-START # refused\n")
    ds.compare(leg, ran(m__a="pass"), complete=True)
    assert (leg.status, leg.fixed) == ("FAILED", ["CANNOT-START"])


def test_update_keeps_surviving_reasons_and_marks_new_lines(ds, leg):
    write(leg, "m.a # identity returns the same object\nm.fixed # old reason\n")
    results = ran(m__a="fail", m__b="error", m__fixed="pass")
    ds.write_expected(leg, ds.updated_list(leg, results))
    assert ds.read_expected(leg.expected_file) == {
        "m.a": "identity returns the same object",
        "m.b": "TODO reason: AssertionError: m__b",
    }
    ds.compare(leg, results, complete=True)
    assert leg.status == "ok"


def test_update_records_cannot_start_with_the_check_ids(ds, leg):
    reason = "SystemCheckError: a: (rowsync.E034) b\nc: (rowsync.E031) d\ne: (rowsync.E034) f"
    listed = ds.updated_list(leg, {"state": "cannot start", "reason": reason})
    assert listed == {"CANNOT-START": "TODO reason: system checks rowsync.E031, rowsync.E034"}


def test_unpack_takes_only_the_tests_directory(ds, tmp_path):
    import tarfile

    src = tmp_path / "src" / "django-9.9"
    (src / "tests" / "basic").mkdir(parents=True)
    (src / "tests" / "runtests.py").write_text("print()\n")
    (src / "tests" / "basic" / "tests.py").write_text("")
    (src / "django").mkdir()
    (src / "django" / "__init__.py").write_text("")
    sdist = tmp_path / "django-9.9.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(src, arcname="django-9.9")
    target = tmp_path / "cache" / "9.9" / "tests"
    target.parent.mkdir(parents=True)
    ds.unpack_tests(sdist, target)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "basic",
        "basic/tests.py",
        "runtests.py",
    ]
    assert not (target.parent / "django").exists()


def test_unjudged_tests_are_neither_listed_nor_judged(ds, leg, tmp_path, monkeypatch):
    unjudged = tmp_path / "unjudged.txt"
    unjudged.write_text("# comment\nm.slow # wall-clock limit\n")
    monkeypatch.setattr(ds, "UNJUDGED", unjudged)
    results = ran(m__slow="fail", m__a="pass")
    ds.compare(leg, results, complete=True)
    assert (leg.status, leg.new, leg.ran) == ("ok", [], 1)
    assert ds.updated_list(leg, results) == {}


def test_a_run_that_crashes_after_starting_fails_and_is_not_a_cannot_start(ds, leg):
    write(leg, "CANNOT-START # refused\n")
    crashed = {"state": "crashed", "reason": "TypeError: cannot pickle 'traceback' object"}
    ds.compare(leg, crashed, complete=True)
    assert (leg.status, leg.new) == ("CRASHED", ["CRASHED"])
    assert ds.leg_failed(leg)


def test_update_refuses_another_delivery_than_the_lists(ds, capsys):
    # The lists are measured with transaction delivery; another mode must not rewrite them.
    with pytest.raises(SystemExit):
        ds.parse_args(["--update", "--delivery", "on_commit"])
    assert "--delivery" in capsys.readouterr().err
    assert ds.parse_args(["--delivery", "on_commit"]).delivery == "on_commit"
