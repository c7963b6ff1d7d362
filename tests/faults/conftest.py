"""Fault-injection suite: private servers, killed and restarted on purpose.

Each test is marked ``fault_engine("postgresql", ...)`` and runs only on the legs of the
engines it names (``ROWSYNC_TEST_DB``). It starts its own server on a free
port (:mod:`tests.faults.instances`), never touching the shared ones. A server that
cannot start skips the tests on a laptop and fails them under ``CI=true``.
"""

from __future__ import annotations

import os

import pytest

from tests.faults.instances import InstanceError, MariaDBInstance, PostgresInstance
from tests.faults.support import FaultDB

SERVERS = {"postgresql": PostgresInstance, "mariadb": MariaDBInstance}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault_engine(*engines): fault test that runs only on those engines' legs"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    leg = os.environ.get("ROWSYNC_TEST_DB", "sqlite")
    for item in items:
        marker = item.get_closest_marker("fault_engine")
        if marker is not None and leg not in marker.args:
            engines = "/".join(marker.args)
            item.add_marker(
                pytest.mark.skip(reason=f"{engines} fault test; this is the {leg} leg")
            )


def _start(engine: str):
    try:
        server = SERVERS[engine]()
        server.start()
    except (InstanceError, OSError) as exc:
        message = f"cannot start a private {engine} server: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return server


@pytest.fixture(scope="session")
def fault_server(request, django_db_blocker):
    """Start a private server of the leg's engine, with a migrated ``fault`` database."""
    engine = os.environ.get("ROWSYNC_TEST_DB", "sqlite")
    server = _start(engine)
    try:
        with django_db_blocker.unblock():
            FaultDB.install(server)
        yield server
    finally:
        FaultDB.uninstall()
        server.destroy()


@pytest.fixture
def fault_db(fault_server, django_db_blocker, tmp_path, request):
    """The ``fault`` alias on the private server, emptied; its programs stop afterwards."""
    tmp_path.chmod(0o755)
    if not fault_server.proc or fault_server.proc.poll() is not None:
        fault_server.start()  # a test that failed while it was down
    fault = FaultDB(fault_server, tmp_path, request)
    with django_db_blocker.unblock():
        fault.reset()
        try:
            yield fault
        finally:
            fault.resume()
            fault.stop_all()
            fault.reconnect()
