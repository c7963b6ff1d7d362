"""Private PostgreSQL and MariaDB servers for the fault tests.

The fault tests kill (SIGKILL), restart and fill database servers, so they never use the
shared servers of the test legs: each engine gets a throw-away instance in a temporary
directory, listening on 127.0.0.1 and a free port of its own.

PostgreSQL refuses to run as root: when this process is root, the server runs as the
``postgres`` user (or ``nobody``), in a directory that user owns. MariaDB runs with
``--user`` set to the current user. A server gets SIGKILL when the test process dies, so
an interrupted run leaves none behind.
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

from tests.events.worker_support import _die_with_parent


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

    def _user(self) -> dict[str, object]:
        """Return the ``subprocess`` arguments that run a program as the server's user."""
        return {}

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
                preexec_fn=_die_with_parent,
                **self._user(),  # type: ignore[arg-type]
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

    def _user(self) -> dict[str, object]:
        ids = self.owner_ids()
        if ids is None:
            return {}
        return {"user": ids[0], "group": ids[1], "extra_groups": []}

    def _init(self) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chmod(self.root, 0o700)
            self.log.touch()
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
        _run(
            [
                str(self.bin / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "-E", "UTF8"),
                *("--auth=trust", "--no-sync"),
            ],
            cwd=self.root,
            **self._user(),
        )

    def _command(self) -> list[str]:
        return [
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.root}",
            # Killing the server is under test, not the machine's power: the OS keeps
            # what was written. Commits stay synchronous (no committed event lost).
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "shared_buffers=32MB",
            "-c",
            "max_connections=40",
        ]

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


def mount_tmpfs(folder: Path, size: str, owner: tuple[int, int] | None = None) -> bool:
    """Mount a tmpfs of ``size`` at ``folder`` (root only); return whether it worked."""
    if os.geteuid() != 0:
        return False
    folder.mkdir(exist_ok=True)
    uid, gid = owner or (os.getuid(), os.getgid())
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700,uid={uid},gid={gid}"]
        + ["rowsync-faults", str(folder)],
        capture_output=True,
        check=False,
    )
    return mount.returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
    with contextlib.suppress(OSError):
        folder.rmdir()


def fill_filesystem(folder: Path, leave: int) -> Path:
    """Fill the filesystem of ``folder`` up to ``leave`` free bytes; return the filler file."""
    filler = folder / "filler"
    stat = os.statvfs(folder)
    size = stat.f_bavail * stat.f_frsize - leave
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, max(size, 1))
    finally:
        os.close(fd)
    return filler


class MariaDBInstance(Instance):
    """A MariaDB server; as root its data directory is a tmpfs of its own (``small_fs``),
    so a test can fill it up."""

    engine = "mariadb"
    #: Size of the data directory's own filesystem (root only).
    FS_SIZE = "512m"

    def __init__(self, datadir: Path | None = None) -> None:
        binary = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not Path(binary).exists() or installer is None:
            raise InstanceError("no MariaDB server (mariadbd, mariadb-install-db) found")
        self.binary = binary
        self.installer = installer
        super().__init__()
        self.small_fs: Path | None = None
        if datadir is None and mount_tmpfs(self.root / "disk", self.FS_SIZE):
            self.small_fs = self.root / "disk"
        self.data = datadir or (self.small_fs or self.root) / "data"
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    def destroy(self) -> None:
        self.kill()
        if self.small_fs is not None:
            unmount(self.small_fs)
        super().destroy()

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
