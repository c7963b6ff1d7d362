"""A person at the console: headless Chromium logs in, filters, replays, reads the backlog.

Screenshots of the main pages are saved into ``ROWSYNC_ARTEFACTS_DIR`` (default
``test-results/screenshots/<leg>``; ``scripts/run_tests.py`` points it into its results
folder). Without Chromium the class is skipped on a laptop and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import sys
import unittest
from pathlib import Path
from typing import Any

import django
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings

from rowsync.models import DeletedRow
from tests.console.support import ADMIN_SETTINGS, DEAD, dead, event, staff

CHROMIUM = os.environ.get("ROWSYNC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ROWSYNC_CHROMEDRIVER", "/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
#: Seconds to wait for a page a click loads (a loaded machine may take a while).
WAIT = 20


def leg() -> str:
    """Return this leg's name as ``scripts/run_tests.py`` spells it (``py311-dj52-sqlite``)."""
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    dj = f"dj{django.VERSION[0]}{django.VERSION[1]}"
    return f"{py}-{dj}-{os.environ.get('ROWSYNC_TEST_DB', 'sqlite')}"


def artefacts() -> Path:
    """Return (and create) the folder the screenshots go into."""
    default = ROOT / "test-results" / "screenshots" / leg()
    folder = Path(os.environ.get("ROWSYNC_ARTEFACTS_DIR") or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start_chromium() -> Any:
    """Return a headless Chromium driver; skip (fail under ``CI=true``) when it is missing."""
    problem = None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        problem = f"selenium is not installed ({exc})"
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if problem is None and missing:
        problem = f"missing {', '.join(missing)} (scripts/bootstrap.sh installs them)"
    if problem is not None:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"browser tests cannot run under CI=true: {problem}")
        raise unittest.SkipTest(problem)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        # No network but the live server: nothing to look up or update in the background.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@override_settings(**ADMIN_SETTINGS)
class ConsoleInBrowser(StaticLiveServerTestCase):
    """One walk through the console, as an operator with view and retry permissions."""

    driver: Any

    @classmethod
    def setUpClass(cls) -> None:
        cls.driver = start_chromium()
        cls.driver.implicitly_wait(WAIT)  # elements of a page still loading after a click
        cls.addClassCleanup(cls.driver.quit)
        cls.folder = artefacts()
        super().setUpClass()

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.folder / f"{name}.png"))

    def text(self, selector: str) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.CSS_SELECTOR, selector).text)

    def shows(self, selector: str, fragment: str) -> bool:
        """Wait (a click's page load may still run) until ``selector`` shows ``fragment``."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        found = ec.text_to_be_present_in_element((By.CSS_SELECTOR, selector), fragment)
        try:
            return bool(WebDriverWait(self.driver, WAIT).until(found))
        except TimeoutException:
            return False

    def login(self) -> None:
        from selenium.webdriver.common.by import By

        from blog.models import UserInfo

        staff(UserInfo, "operator", "view", "retry")
        self.driver.get(f"{self.live_server_url}/admin/login/?next={DEAD}")
        self.driver.find_element(By.NAME, "username").send_keys("operator")
        self.driver.find_element(By.NAME, "password").send_keys("pw")
        self.driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    def test_filter_replay_and_backlog(self) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        for i in range(3):
            dead(pk_text=str(i))
        letters = [dead(model_label="blog.comment", table_name="blog_comment") for _ in "ab"]
        first = event(row={"nid": 41, "title": "Shown to the operator"})
        self.login()
        assert self.shows("#changelist-form", "5 dead letters"), self.text("#changelist-form")
        self.shot("dead-letters")
        self.driver.find_element(By.LINK_TEXT, "blog.comment").click()
        assert self.shows("#changelist-form", "2 dead letters"), self.text("#changelist-form")
        self.driver.find_element(By.ID, "action-toggle").click()
        Select(self.driver.find_element(By.NAME, "action")).select_by_value("replay")
        self.driver.find_element(By.NAME, "index").click()
        assert self.shows("#rowsync-confirm-count", "2"), self.text("#content")
        assert self.shows("#content", "Put 2 dead letters back in the worker's queue?"), self.text(
            "#content"
        )
        self.shot("replay-confirmation")
        self.driver.find_element(By.ID, "rowsync-confirm").click()
        assert self.shows("ul.messagelist", "Requeued 2 dead letters."), self.text(
            "ul.messagelist"
        )
        assert self.shows("#changelist-form", "0 dead letters"), self.text("#changelist-form")
        requeued = DeletedRow.objects.filter(pk__in=[e.pk for e in letters])
        assert set(requeued.values_list("status", "attempts")) == {("P", 0)}
        self.driver.find_element(By.ID, "rowsync-backlog-link").click()
        row = self.driver.find_element(By.CSS_SELECTOR, "tr[data-model='blog.comment']")
        assert row.find_element(By.CSS_SELECTOR, ".pending").text == "2"
        assert row.find_element(By.CSS_SELECTOR, ".dead").text == "0"
        self.shot("backlog")
        self.driver.get(f"{self.live_server_url}/admin/rowsync/deletedrow/{first.pk}/change/")
        assert self.shows("#content", '"title": "Shown to the operator"'), self.text("#content")
        self.shot("event-detail")
