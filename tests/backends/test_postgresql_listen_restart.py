"""PostgreSQL: a worker LISTENs again after its database restarted.

Runs a private PostgreSQL server (``initdb`` into a temporary folder, its own port), which
the test stops and starts again; the shared test servers are never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest
from django.db import connection, connections

from rowsync.backends import get_backend
from tests.events.worker_support import make_worker

pytestmark = pytest.mark.requires("supports_notify")

ALIAS = "rowsync_private_pg"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateServer:
    """A throw-away PostgreSQL server owned by the ``postgres`` system user."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = os.path.dirname(binaries[-1])
        self.folder = tempfile.mkdtemp(prefix="rowsync-private-pg-")
        shutil.chown(self.folder, "postgres")
        self.data = os.path.join(self.folder, "data")
        self.port = _free_port()
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, program, *args):
        command = [os.path.join(self.bin, program), *args]
        if os.geteuid() == 0:  # initdb and the server refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self):
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = os.path.join(self.folder, "server.log")
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", log, "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_alias(django_db_blocker):
    server = PrivateServer()
    server.start()
    settings = {
        **connection.settings_dict,
        "NAME": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(server.port),
        "USER": "postgres",
        "PASSWORD": "",
    }
    connections.settings[ALIAS] = settings
    try:
        with django_db_blocker.unblock():
            yield server
    finally:
        if ALIAS in connections:
            connections[ALIAS].close()
            del connections[ALIAS]
        del connections.settings[ALIAS]
        try:
            server.stop()
        finally:
            server.remove()


def _idle_in_thread(worker, listener):
    result = {}

    def run():
        result["listener"] = worker._idle(listener)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_worker_listens_again_after_the_database_restarted(private_alias):
    worker = make_worker(listen=True, poll_interval=3600, strategy="skip_locked")
    worker.using = ALIAS
    listener = worker._open_listener()
    assert listener is not None

    private_alias.stop()
    private_alias.start()

    # The broken channel is noticed, opened again, and the wait ends without polling.
    thread, result = _idle_in_thread(worker, listener)
    thread.join(60)
    if thread.is_alive():
        worker.stop()
        thread.join(60)
        pytest.fail("the worker did not LISTEN again after the restart (polling only)")
    listener = result["listener"]
    assert listener is not None

    # The new channel wakes the worker on a NOTIFY.
    thread, result = _idle_in_thread(worker, listener)
    channel = get_backend(connections[ALIAS]).worker_channel
    raw = connections[ALIAS].get_new_connection(connections[ALIAS].get_connection_params())
    raw.autocommit = True
    try:
        for _ in range(600):
            raw.execute("SELECT pg_notify(%s, '')", [channel])
            thread.join(0.1)
            if not thread.is_alive():
                break
    finally:
        raw.close()
    if thread.is_alive():
        worker.stop()
        thread.join(60)
    assert worker.stats.notified == 1
    result["listener"].close()
