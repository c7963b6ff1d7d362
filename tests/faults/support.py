"""The fault campaign's machinery: a Django alias on a private server, programs, tallies.

:class:`FaultDB` points the connection alias ``fault`` of this test process at a private
server (:mod:`tests.faults.instances`), starts workers (through
:func:`tests.events.worker_support.spawn_worker`) and deleting programs
(:mod:`tests.faults.actor`) against it, and counts, per fault, the events expected,
delivered, duplicated and lost (:class:`Tally`).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import json
import os
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from django.core.management import call_command
from django.db import connections

from rowsync.events import claim as claims
from rowsync.events import inbox
from rowsync.models import DeletedRow
from tests.dbconfig import db_config
from tests.events.test_worker_processes import wait_for
from tests.events.worker_support import ROOT, _die_with_parent, spawn_worker, worker_env
from tests.faults import receivers
from tests.faults.instances import Instance

ALIAS = "fault"
DB_NAME = "rowsync_fault"


@dataclass
class Tally:
    """What one fault did to the events of the rows it deleted."""

    fault: str
    engine: str
    expected: int  # rows deleted (committed): each owes one delivery
    delivered: int  # expected rows with a receipt committed in the database
    duplicated: int  # receipts beyond the first, per row (database effects)
    lost: int  # expected rows without a receipt
    stray: int  # receipts of rows that were not deleted
    outside_duplicated: int  # receiver calls beyond the first (effects outside the database)
    pending: int  # events still waiting in the event table or the inboxes
    notes: str = ""

    def line(self) -> str:
        return (
            f"FAULT {self.fault} [{self.engine}]: expected {self.expected}, delivered "
            f"{self.delivered}, duplicated {self.duplicated}, lost {self.lost}, stray "
            f"{self.stray}, outside-db duplicated {self.outside_duplicated}, pending "
            f"{self.pending}{' (' + self.notes + ')' if self.notes else ''}"
        )


class FaultDB:
    """The ``fault`` alias on a private server, and the programs a fault test runs on it."""

    def __init__(self, server: Instance, folder: Path, request) -> None:
        self.server = server
        self.engine = server.engine
        self.folder = folder
        self.log = folder / "attempts.log"
        self.request = request
        self.procs: list[subprocess.Popen[str]] = []

    # -- the alias --------------------------------------------------------------------
    @staticmethod
    def settings_for(server: Instance) -> dict:
        config = db_config(server.engine, ALIAS)
        config["NAME"] = DB_NAME
        config["HOST"] = "127.0.0.1"
        config["PORT"] = str(server.port)
        config["USER"] = "postgres" if server.engine == "postgresql" else "root"
        config["PASSWORD"] = ""
        config["TEST"] = {"NAME": DB_NAME}
        return config

    @classmethod
    def install(cls, server: Instance) -> None:
        """Register the alias, create the database and migrate it (once per server)."""
        configured = connections.configure_settings(
            {"default": connections.settings["default"], ALIAS: cls.settings_for(server)}
        )
        connections.settings[ALIAS] = configured[ALIAS]
        connection = connections[ALIAS]
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
            charset = " CHARACTER SET utf8mb4" if server.engine == "mariadb" else ""
            cursor.execute(f"CREATE DATABASE {DB_NAME}{charset}")
        call_command("migrate", database=ALIAS, verbosity=0, interactive=False)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {receivers.RECEIPT_TABLE} (k VARCHAR(64) NOT NULL, pid INTEGER)"
            )
        connection.close()

    @staticmethod
    def uninstall() -> None:
        with contextlib.suppress(Exception):  # the server may be gone already
            connections[ALIAS].close()
        connections.settings.pop(ALIAS, None)
        with contextlib.suppress(AttributeError, KeyError):
            del connections[ALIAS]

    def reset(self) -> None:
        """Empty the receipts, the event table and the inboxes (a test's clean start)."""
        self.reconnect()
        with connections[ALIAS].cursor() as cursor:
            cursor.execute(f"DELETE FROM {receivers.RECEIPT_TABLE}")
        DeletedRow.objects.using(ALIAS).all()._raw_delete(ALIAS)
        inbox.clear(ALIAS)

    def reconnect(self) -> None:
        """Drop this process's connection (after the server was killed)."""
        with contextlib.suppress(Exception):  # a connection to a killed server
            connections[ALIAS].close()

    def kill_server(self) -> None:
        self.server.kill()
        self.reconnect()

    def restart_server(self) -> None:
        self.server.start()
        self.reconnect()

    # -- data -------------------------------------------------------------------------
    def make_blog(self, articles: int, desc: str = "") -> tuple[int, list[int]]:
        """Create a blog with ``articles`` articles; return its pk and theirs."""
        from blog.models import Article, Blog, UserInfo

        tag = uuid.uuid4().hex[:12]
        user = UserInfo.objects.using(ALIAS).create(username=f"fault{tag}")
        blog = Blog.objects.using(ALIAS).create(title="t", site=tag, theme="x", user=user)
        day = datetime.date(2026, 1, 1)
        Article.objects.using(ALIAS).bulk_create(
            (
                Article(title=f"a{i}", desc=desc, blog=blog, create_time=day)
                for i in range(articles)
            ),
            batch_size=2000,
        )
        pks = Article.objects.using(ALIAS).filter(blog=blog).values_list("pk", flat=True)
        return blog.pk, sorted(pks)

    def present(self, pks: list[int]) -> set[int]:
        from blog.models import Article

        return set(Article.objects.using(ALIAS).filter(pk__in=pks).values_list("pk", flat=True))

    def pending(self) -> int:
        return claims.pending_count(ALIAS) + claims.dead_count(ALIAS)

    # -- programs ---------------------------------------------------------------------
    def env(self, **extra: object) -> dict[str, str]:
        port = "ROWSYNC_PG_PORT" if self.engine == "postgresql" else "ROWSYNC_MYSQL_PORT"
        return worker_env(
            DJANGO_SETTINGS_MODULE="tests.faults.fault_settings",
            ROWSYNC_TEST_DB=self.engine,
            ROWSYNC_FAULT_DB_NAME=DB_NAME,
            ROWSYNC_FAULT_CONNECT="1",
            ROWSYNC_FAULT_LOG=self.log,
            ROWSYNC_FAULT_DIR=self.folder,
            ROWSYNC_WORKER_TEST_CONNECT="0",
            **{port: self.server.port},
            **extra,
        )

    def worker(self, *args: str, **env: object) -> subprocess.Popen[str]:
        proc = spawn_worker(
            "--import", "tests.faults.receivers", "--progress", "0", *args, env=self.env(**env)
        )
        self.procs.append(proc)
        return proc

    def drain(self, timeout: float = 120) -> str:
        """Run a worker with ``--drain`` to the end; return its output."""
        proc = self.worker("--drain")
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"drain failed:\n{out}\n{err}"
        return out + err

    def actor(self, blog_pk: int, **env: object) -> subprocess.Popen[str]:
        """Start a program that deletes the blog with the ORM (see :mod:`tests.faults.actor`)."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.actor", str(blog_pk)],
            cwd=ROOT,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.procs.append(proc)
        return proc

    def paused(self) -> list[int]:
        """Return the pids whose receiver waits in its pause."""
        return [int(p.name.split("-")[1]) for p in self.folder.glob("paused-*")]

    def wait_paused(self, proc: subprocess.Popen[str], timeout: float = 120) -> None:
        """Wait until a receiver pauses (``ROWSYNC_FAULT_PAUSE_AT``); fail if ``proc`` ends."""
        wait_for(lambda: self.paused() or proc.poll() is not None, timeout)
        assert self.paused(), proc.communicate()

    def resume(self) -> None:
        (self.folder / "resume").touch()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()

    # -- counting ---------------------------------------------------------------------
    def receipts(self) -> collections.Counter[str]:
        with connections[ALIAS].cursor() as cursor:
            cursor.execute(f"SELECT k FROM {receivers.RECEIPT_TABLE}")
            return collections.Counter(str(k) for (k,) in cursor.fetchall())

    def attempts(self) -> collections.Counter[str]:
        if not self.log.exists():
            return collections.Counter()
        lines = self.log.read_text().splitlines()
        return collections.Counter(line.split()[0] for line in lines if line)

    def tally(self, fault: str, expected: set[int] | list[int], notes: str = "") -> Tally:
        """Count what happened to the events of ``expected`` (rows really deleted)."""
        keys = {str(k) for k in expected}
        receipts = self.receipts()
        attempts = self.attempts()
        result = Tally(
            fault=fault,
            engine=self.engine,
            expected=len(keys),
            delivered=len(keys & receipts.keys()),
            duplicated=sum(n - 1 for k, n in receipts.items() if k in keys),
            lost=len(keys - receipts.keys()),
            stray=sum(n for k, n in receipts.items() if k not in keys),
            outside_duplicated=sum(n - 1 for k, n in attempts.items() if k in keys),
            pending=self.pending(),
            notes=notes,
        )
        print(result.line())
        self.request.node.user_properties.append(("fault_tally", json.dumps(asdict(result))))
        report = os.environ.get("ROWSYNC_FAULT_REPORT")
        if report:
            with open(report, "a") as fh:
                fh.write(json.dumps(asdict(result)) + "\n")
        return result
