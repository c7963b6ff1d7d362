"""Private PostgreSQL and MariaDB servers for the fault tests.

The fault tests kill (SIGKILL), restart and fill database servers, so they never use the
shared servers of the test legs: each engine gets a throw-away instance in a temporary
directory, listening on 127.0.0.1 and a free port of its own.

PostgreSQL refuses to run as root: when this process is root, the server runs as the
``postgres`` user (or ``nobody``) through ``runuser``, in a directory that user owns.
MariaDB runs with ``--user`` set to the current user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class InstanceError(RuntimeError):
    """A private server could not be set up or started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Return the pids whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the ")".
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids.extend(_tree(child))
    return pids


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Instance:
    """One private server: ``start()``, ``kill()`` (SIGKILL, every process), ``restart()``."""

    engine = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"rowsync-faults-{self.engine}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.root / "server.log"

    # Hooks --------------------------------------------------------------------------
    def _init(self) -> None:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        return _accepts(self.port)

    # Life cycle ---------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        if not (self.root / ".initialised").exists():
            self._init()
            (self.root / ".initialised").touch()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise InstanceError(f"{self.engine} exited at start:\n{self.tail()}")
            if self._ready():
                return
            time.sleep(0.1)
        self.kill()
        raise InstanceError(f"{self.engine} did not accept connections:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the server and every process it started (no shutdown, no checkpoint)."""
        if self.proc is None:
            return
        # PostgreSQL's backends call setsid(): collect them before their parent dies.
        pids = _tree(self.proc.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() for pid in pids[1:]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)

    def restart(self) -> None:
        self.kill()
        self.start()

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _run(cmd: list[str], **kwargs: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise InstanceError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


class PostgresInstance(Instance):
    engine = "postgresql"

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        which = shutil.which("postgres")
        binary = found[-1] if found else (os.path.realpath(which) if which else None)
        if binary is None:
            raise InstanceError("no PostgreSQL server binary (postgres) found")
        self.bin = Path(binary).parent
        super().__init__()
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                break
            if self.user is None:
                raise InstanceError("running as root and no postgres/nobody user to run as")
        self.data = self.root / "data"

    def _as_user(self, cmd: list[str]) -> list[str]:
        if self.user is None:
            return cmd
        return ["runuser", "-u", self.user, "--", *cmd]

    def _init(self) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chmod(self.root, 0o700)
            self.log.touch()
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
        _run(
            self._as_user(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            cwd=self.root,
        )

    def _command(self) -> list[str]:
        return self._as_user(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.root}",
                # The test database's durability is not under test; speed is.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "shared_buffers=32MB",
                "-c",
                "max_connections=40",
            ]
        )

    def _ready(self) -> bool:
        if not _accepts(self.port):
            return False
        probe = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def owner_ids(self) -> tuple[int, int] | None:
        """Return the uid and gid the server runs as (None: this process's)."""
        if self.user is None:
            return None
        entry = pwd.getpwnam(self.user)
        return entry.pw_uid, entry.pw_gid


class MariaDBInstance(Instance):
    engine = "mariadb"

    def __init__(self, datadir: Path | None = None) -> None:
        binary = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not Path(binary).exists() or installer is None:
            raise InstanceError("no MariaDB server (mariadbd, mariadb-install-db) found")
        self.binary = binary
        self.installer = installer
        super().__init__()
        self.data = datadir or self.root / "data"
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _options(self) -> list[str]:
        return [
            "--no-defaults",
            f"--datadir={self.data}",
            f"--user={self.user}",
            "--innodb-log-file-size=16M",
            "--innodb-buffer-pool-size=32M",
            # tmpfs and some loop filesystems refuse O_DIRECT.
            "--innodb-flush-method=fsync",
            "--innodb-flush-log-at-trx-commit=2",
        ]

    def _init(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        _run(
            [
                self.installer,
                *self._options(),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]
        )

    def _command(self) -> list[str]:
        return [
            self.binary,
            *self._options(),
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.root / 'mysqld.sock'}",
            f"--pid-file={self.root / 'mysqld.pid'}",
            f"--log-error={self.log}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--max-connections=60",
        ]

    def _ready(self) -> bool:
        if not _accepts(self.port):
            return False
        probe = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                "-h127.0.0.1",
                f"-P{self.port}",
                "-uroot",
                "-e",
                "SELECT 1",
            ],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0
