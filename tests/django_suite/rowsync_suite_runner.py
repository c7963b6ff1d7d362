"""Test runner of the Django-suite leg: Django's ``DiscoverRunner`` that records each outcome.

The outcomes go to the JSON file named by ``ROWSYNC_DJSUITE_RESULTS``::

    {"state": "ran", "outcomes": {"<test id>": "pass|fail|error|skip|xfail|upass"},
     "details": {"<test id>": "<exception, one line>"}}

When the run cannot start (a system check refuses the configuration, the test databases
cannot be created, a test module cannot be imported by the runner) the file says
``{"state": "cannot start", "reason": "<check output or exception>"}`` and the runner
re-raises, so ``runtests.py`` still exits non-zero. A run that breaks after the tests started
says ``{"state": "crashed", "reason": ...}``.

A test that fails before its own clean-up (Django's tests often disconnect a receiver on
their last line) would leave a model-signal receiver connected for every later test: a
listed difference would then change the outcome of unrelated tests, and the outcome of a
test would depend on which modules ran before it. After a failing or erroring test the
result puts the receivers of Django's model signals back as they were when it started;
passing tests are left exactly as Django's runner leaves them.
"""

from __future__ import annotations

import json
import os
import traceback
import unittest
from pathlib import Path
from types import TracebackType
from typing import Any

from django.conf import settings
from django.test.runner import DiscoverRunner

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_FAILING = ("fail", "error", "upass")


def _one_line(err: _ExcInfo | tuple[None, None, None]) -> str:
    exc_type, value = err[0], err[1]
    if exc_type is None:
        return ""
    text = "".join(traceback.format_exception_only(exc_type, value))
    return " ".join(text.split())[:400]


def _model_signals() -> list[Any]:
    from django.db.models import signals

    return [value for value in vars(signals).values() if isinstance(value, signals.ModelSignal)]


class RecordingResult(unittest.TextTestResult):
    """A text result that also keeps ``{test id: outcome}`` and the failing exceptions."""

    def startTest(self, test: unittest.TestCase) -> None:  # noqa: N802 (unittest's name)
        self._receivers = [(signal, list(signal.receivers)) for signal in _model_signals()]
        self._failed = False
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:  # noqa: N802
        super().stopTest(test)
        if self._failed:
            for signal, receivers in self._receivers:
                with signal.lock:
                    signal.receivers = receivers
                    signal.sender_receivers_cache.clear()

    def _record(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        if not hasattr(self, "outcomes"):
            self.outcomes: dict[str, str] = {}  # {test id: outcome}
            self.details: dict[str, str] = {}  # {test id: exception, one line}
        test_id = test.id()
        # A test with failing subtests stays failed when its own success arrives later.
        if self.outcomes.get(test_id) in _FAILING and outcome not in _FAILING:
            return
        self.outcomes[test_id] = outcome
        if detail:
            self.details[test_id] = detail

    def addSuccess(self, test: unittest.TestCase) -> None:  # noqa: N802 (unittest's name)
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:  # noqa: N802
        super().addFailure(test, err)
        self._failed = True
        self._record(test, "fail", _one_line(err))

    def addError(self, test: unittest.TestCase, err: Any) -> None:  # noqa: N802
        super().addError(test, err)
        self._failed = True
        self._record(test, "error", _one_line(err))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:  # noqa: N802
        super().addSkip(test, reason)
        self._record(test, "skip")

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:  # noqa: N802
        super().addExpectedFailure(test, err)
        self._record(test, "xfail")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:  # noqa: N802
        super().addUnexpectedSuccess(test)
        self._record(test, "upass", "unexpected success")

    def addSubTest(  # noqa: N802
        self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any
    ) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._failed = True
            failed = issubclass(err[0], test.failureException)
            self._record(test, "fail" if failed else "error", _one_line(err))


class RecordingRunner(DiscoverRunner):
    """``DiscoverRunner`` that writes every test's outcome to ``ROWSYNC_DJSUITE_RESULTS``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._written = False
        self._started = False

    def _write(self, data: dict[str, Any]) -> None:
        path = os.environ.get("ROWSYNC_DJSUITE_RESULTS")
        if path:
            Path(path).write_text(json.dumps(data, indent=0, sort_keys=True))
        self._written = True

    def get_resultclass(self) -> Any:
        # --debug-sql and --pdb keep Django's own result classes.
        return super().get_resultclass() or RecordingResult

    def run_checks(self, databases: Any) -> None:
        # runtests.py replaces SILENCED_SYSTEM_CHECKS; add back the leg's own.
        extra = getattr(settings, "DJSUITE_SILENCED", [])
        settings.SILENCED_SYSTEM_CHECKS = [*settings.SILENCED_SYSTEM_CHECKS, *extra]
        super().run_checks(databases)

    def run_suite(self, suite: unittest.TestSuite, **kwargs: Any) -> Any:
        self._started = True
        result = super().run_suite(suite, **kwargs)
        self._write(
            {
                "state": "ran",
                "outcomes": getattr(result, "outcomes", {}),
                "details": getattr(result, "details", {}),
            }
        )
        return result

    def run_tests(self, test_labels: Any, *args: Any, **kwargs: Any) -> int:
        try:
            failures: int = super().run_tests(test_labels, *args, **kwargs)
        except Exception as exc:
            if not self._written:
                state = "crashed" if self._started else "cannot start"
                self._write({"state": state, "reason": f"{type(exc).__name__}: {exc}"})
            raise
        return failures
