"""Pytest plugin: throwaway PostgreSQL, Mosquitto and InfluxDB servers.

Loaded from ``tests/conftest.py`` via ``pytest_plugins = ["tests.servers"]``.

Each session-scoped fixture starts a real server on a free loopback port with
all of its state in a fresh temporary directory, waits until the server really
accepts connections, and tears it down (and deletes the directory) at the end
of the session.  The servers can be stopped and restarted on the same port
with the same data, which is what outage tests use.

Fixtures
--------
``postgres_server``
    ``host``, ``port``, ``user``, ``dsn``, ``log_path``, ``stop()``,
    ``start()``, ``kill()``, ``create_database(name=None) -> str``.
``pg_url`` (function scope)
    ``postgresql+asyncpg://<user>@127.0.0.1:<port>/<fresh db>``.
``mosquitto_server``
    ``host``, ``port``, ``url`` (``mqtt://127.0.0.1:<port>``), ``log_path``,
    ``stop()`` (SIGTERM, the broker saves its persistence file),
    ``start()``, ``kill()`` (SIGKILL).
``influxdb_server``
    ``host``, ``port``, ``url`` (``http://127.0.0.1:<port>``), ``log_path``,
    ``stop()``, ``start()``, ``kill()``.

When a server binary is missing the fixture skips the test; with
``HUB_REQUIRE_SERVICES=1`` in the environment it fails it instead (CI sets
this so that a broken install can never turn into a green, all-skipped run).

PostgreSQL refuses to run as root, so when the tests run as root every server
is run as an unprivileged system user (``postgres``, ``mosquitto``,
``influxdb`` as created by the Debian packages, else ``nobody``) and its
temporary directory is owned by that user.  Servers run in their own process
group, get SIGKILL if the pytest process dies (``PR_SET_PDEATHSIG``), and are
also stopped from an ``atexit`` hook, so they never outlive the test run.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import glob
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = [
    "PostgresServer",
    "MosquittoServer",
    "InfluxDBServer",
    "ServerStartError",
    "launch_mosquitto",
]

START_TIMEOUT = 20.0
MQTT_MAX_INFLIGHT = 2000  # integrations.mqtt.broker.MAX_INFLIGHT (tests/servers.py imports nothing of the hub's)
STOP_TIMEOUT = 15.0
LOOPBACK = "127.0.0.1"
REQUIRE_ENV = "HUB_REQUIRE_SERVICES"


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


# --------------------------------------------------------------------------
# helpers


def _require_services() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _missing(message: str) -> None:
    """Skip (default) or fail (``HUB_REQUIRE_SERVICES=1``) the requesting test."""
    if _require_services():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(message)


def _find_binary(name: str, extra_dirs: tuple[str, ...] = ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin")) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path)) or (0,)


def _find_postgres_bindir() -> str | None:
    """Directory holding both ``initdb`` and ``postgres`` (newest Debian version first)."""
    candidates: list[str] = []
    for name in ("pg_config",):
        pg_config = shutil.which(name)
        if pg_config:
            try:
                out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
                if out.returncode == 0 and out.stdout.strip():
                    candidates.append(out.stdout.strip())
            except (OSError, subprocess.SubprocessError):
                pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for binary in ("initdb", "postgres"):
        found = shutil.which(binary)
        if found:
            candidates.append(os.path.dirname(os.path.realpath(found)))
    for directory in candidates:
        if all(os.access(os.path.join(directory, b), os.X_OK) for b in ("initdb", "postgres")):
            return directory
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _service_user(preferred: str) -> pwd.struct_passwd | None:
    """The unprivileged account to run a server as, or None when not root."""
    if os.geteuid() != 0:
        return None
    for name in (preferred, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry
    raise RuntimeError(f"running as root and neither {preferred!r} nor 'nobody' exists to run the server as")


def _world_traversable(path: str) -> bool:
    p = Path(path).resolve()
    for part in [p, *p.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


_OWNER_FILE = ".hub-test-owner-pid"
_swept: set[tuple[str, str]] = set()


def _sweep_stale(base: str, prefix: str) -> None:
    """Delete directories left behind by a pytest process that was SIGKILLed
    (its servers died with it through PR_SET_PDEATHSIG; their data did not)."""
    if (base, prefix) in _swept:
        return
    _swept.add((base, prefix))
    for path in glob.glob(os.path.join(base, prefix + "*")):
        try:
            pid = int(Path(path, _OWNER_FILE).read_text())
            if time.time() - os.stat(path).st_mtime < 60:
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):
            continue


def _make_tempdir(prefix: str, owner: pwd.struct_passwd | None) -> Path:
    base = tempfile.gettempdir()
    if owner is not None and not _world_traversable(base):
        base = "/tmp"  # the service user must be able to reach its directory
    _sweep_stale(base, prefix)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    (path / _OWNER_FILE).write_text(str(os.getpid()))
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def _chown_tree(path: Path, owner: pwd.struct_passwd | None) -> None:
    if owner is None:
        return
    for root, _dirs, files in os.walk(path):
        os.chown(root, owner.pw_uid, owner.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), owner.pw_uid, owner.pw_gid, follow_symlinks=False)


try:  # loaded up front: the child must not dlopen between fork and exec
    _libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except OSError:  # pragma: no cover
    _libc = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it if pytest dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the
# process.  Servers are (re)started from worker threads too (``asyncio.to_thread``
# in outage tests), and those threads come and go; so every server is forked by
# one daemon thread that lives exactly as long as the pytest process.
_spawn_queue: queue.SimpleQueue[tuple[concurrent.futures.Future, tuple, dict]] = queue.SimpleQueue()
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()


def _spawner_loop() -> None:
    while True:
        future, args, kwargs = _spawn_queue.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(subprocess.Popen(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            future.set_exception(exc)


def _popen(*args, **kwargs) -> subprocess.Popen[bytes]:
    global _spawner
    if _libc is None:
        return subprocess.Popen(*args, **kwargs)
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawner_loop, name="hub-test-server-spawner", daemon=True)
            _spawner.start()
    future: concurrent.futures.Future = concurrent.futures.Future()
    _spawn_queue.put((future, args, {**kwargs, "preexec_fn": _die_with_parent}))
    return future.result()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may contain spaces/parens: fields start after the last ")"
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (postgres children setsid() themselves,
    so killing the process group alone would miss them)."""
    if not os.path.isdir("/proc"):
        return []
    tree = _children_map()
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"


def _child_env(owner: pwd.struct_passwd | None, home: Path, drop_prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "INFLUXDB_", *drop_prefixes))
    }
    env["LC_ALL"] = "C"
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
    if owner is not None:
        env["HOME"] = str(home)
        env["USER"] = env["LOGNAME"] = owner.pw_name
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<log is empty>"


# --------------------------------------------------------------------------
# process bookkeeping shared by all servers

_LIVE: set[_Server] = set()
_LIVE_LOCK = threading.Lock()
# Directories of session servers, removed when the run ends rather than in the last test's teardown:
# a session's PostgreSQL holds a database per test (tens of thousands of files), whose removal on a
# loaded machine outlasted the test timeout of the test that happened to run last.
_LEFT_DIRS: list[Path] = []


def _cleanup_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        try:
            server.close()
        except Exception:  # pragma: no cover - atexit must not raise
            pass
    for directory in _LEFT_DIRS:
        shutil.rmtree(directory, ignore_errors=True)


atexit.register(_cleanup_all)


class _Server:
    """A server process in its own process group, logging to a file."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, tmpdir: Path, owner: pwd.struct_passwd | None, port: int) -> None:
        self.tmpdir = tmpdir
        self.owner = owner
        self.host = LOOPBACK
        self.port = port
        self.log_path = tmpdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._reaped = False
        self.start_seconds: float | None = None
        with _LIVE_LOCK:
            _LIVE.add(self)

    # subclasses provide these
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return _child_env(self.owner, self.tmpdir)

    def _probe(self) -> bool:
        """True once the server fully serves requests."""
        raise NotImplementedError

    # lifecycle
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start (or restart) the server on the same port with the same data."""
        if self.running:
            return
        if not _port_is_free(self.port):
            raise ServerStartError(f"{self.name}: port {self.port} on {LOOPBACK} is taken by another process")
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== {self.name} start {time.strftime('%H:%M:%S')} ====\n".encode())
            log.flush()
            kwargs: dict = {}
            if self.owner is not None:
                kwargs.update(user=self.owner.pw_uid, group=self.owner.pw_gid, extra_groups=[])
            self.proc = _popen(
                self._command(),
                cwd=self.tmpdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                close_fds=True,
                **kwargs,
            )
            self._reaped = False
        self._wait_ready(began)
        self.start_seconds = time.monotonic() - began

    def _wait_ready(self, began: float) -> None:
        deadline = began + START_TIMEOUT
        last_error: Exception | None = None
        while True:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                self._reap_group()
                raise ServerStartError(
                    f"{self.name} exited with code {code} during startup on port {self.port}; "
                    f"log {self.log_path}:\n{_tail(self.log_path)}"
                )
            try:
                if self._probe():
                    return
            except Exception as exc:  # noqa: BLE001 - retry until the deadline
                last_error = exc
            if time.monotonic() > deadline:
                self.kill()
                raise ServerStartError(
                    f"{self.name} did not accept connections on {self.host}:{self.port} within "
                    f"{START_TIMEOUT:.0f}s (last probe error: {last_error!r}); log {self.log_path}:\n"
                    f"{_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def _signal(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def _kill_tree(self, others: list[int] | None = None) -> None:
        """SIGKILL the leader, its process group and all its descendants."""
        if self.proc is None or self._reaped:
            return  # never signal a group id that may since have been reused
        pids = set(others or ())
        if self.proc.poll() is None:
            pids.update(_descendants(self.proc.pid))
            self._signal(signal.SIGKILL)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        # orphans are reaped by init; wait until they are really gone (postgres
        # will not start while an old child still holds its shared memory)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._reaped = self.proc.poll() is not None

    def _reap_group(self) -> None:
        """After the leader exited: make sure nothing of it survives."""
        self._kill_tree()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Graceful shutdown; escalates to SIGKILL after ``timeout`` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_tree()
        self._reap_group()
        self._after_stop()

    def kill(self) -> None:
        """SIGKILL the server and everything it started (a crash, no clean shutdown)."""
        if self.proc is None:
            return
        self._kill_tree()
        self._after_stop()

    def _after_stop(self) -> None:
        # wait until the port is released so that start() can rebind it
        deadline = time.monotonic() + 5
        while not _port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self, *, remove_at_exit: bool = False) -> None:
        """Stop the server for good and delete its directory (when the run ends, with remove_at_exit)."""
        try:
            self.stop(timeout=10)
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            if remove_at_exit:
                _LEFT_DIRS.append(self.tmpdir)
            else:
                shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}:{self.port} running={self.running}>"


# --------------------------------------------------------------------------
# PostgreSQL


def _pg_message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return buf


def pg_simple_query(host: str, port: int, user: str, database: str, sql: str, timeout: float = 10.0) -> None:
    """Run one statement over the v3 wire protocol (trust auth); raise on error.

    Dependency-free and synchronous, so it works from session fixtures.
    """
    params = f"user\0{user}\0database\0{database}\0application_name\0hub-tests\0\0".encode()
    startup = struct.pack("!ii", len(params) + 8, 196608) + params
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(startup)
        sent_query = False
        error: str | None = None
        while True:
            kind = _recv_exact(sock, 1)
            (length,) = struct.unpack("!i", _recv_exact(sock, 4))
            body = _recv_exact(sock, length - 4)
            if kind == b"R":
                (code,) = struct.unpack("!i", body[:4])
                if code != 0:
                    raise ConnectionError(f"postgres asked for authentication method {code}; expected trust")
            elif kind == b"E":
                fields = dict(
                    (f[:1].decode(), f[1:].decode(errors="replace")) for f in body.split(b"\0") if f
                )
                error = f"{fields.get('C', '?')}: {fields.get('M', body)!s}"
                if not sent_query:  # e.g. "the database system is starting up"
                    raise ConnectionError(error)
            elif kind == b"Z":
                if sent_query:
                    sock.sendall(_pg_message(b"X", b""))
                    if error:
                        raise RuntimeError(f"postgres: {error} (query: {sql})")
                    return
                sock.sendall(_pg_message(b"Q", sql.encode() + b"\0"))
                sent_query = True


class PostgresServer(_Server):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: does not wait for clients to go

    def __init__(self, bindir: str, tmpdir: Path, owner: pwd.struct_passwd | None, port: int) -> None:
        super().__init__(tmpdir, owner, port)
        self.bindir = bindir
        self.user = "postgres"  # the cluster's superuser role (trust auth, no password)
        self.datadir = tmpdir / "data"
        self.socket_dir = tmpdir / "sock"
        self._counter = 0

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/postgres"

    def url(self, database: str, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def initdb(self) -> None:
        self.socket_dir.mkdir()
        _chown_tree(self.socket_dir, self.owner)
        kwargs: dict = {}
        if self.owner is not None:
            kwargs.update(user=self.owner.pw_uid, group=self.owner.pw_gid, extra_groups=[])
        with open(self.log_path, "ab") as log:
            result = subprocess.run(
                [
                    os.path.join(self.bindir, "initdb"),
                    "-D", str(self.datadir),
                    "-U", self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                cwd=self.tmpdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=120,
                **kwargs,
            )
        if result.returncode != 0:
            raise ServerStartError(
                f"initdb failed with code {result.returncode}; log {self.log_path}:\n{_tail(self.log_path)}"
            )

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        cmd = [os.path.join(self.bindir, "postgres"), "-D", str(self.datadir)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def _probe(self) -> bool:
        pg_simple_query(self.host, self.port, self.user, "postgres", "SELECT 1", timeout=2)
        return True

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh, empty database and return its name."""
        if name is None:
            self._counter += 1
            name = f"test_{self._counter}_{uuid.uuid4().hex[:8]}"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
            raise ValueError(f"unsupported database name {name!r}")
        pg_simple_query(self.host, self.port, self.user, "postgres", f'CREATE DATABASE "{name}"')
        return name


# --------------------------------------------------------------------------
# Mosquitto


def mqtt_ping(host: str, port: int, timeout: float = 2.0) -> None:
    """MQTT 3.1.1 CONNECT/CONNACK round trip with a clean session; raise unless accepted."""
    client_id = f"hub-probe-{uuid.uuid4().hex[:8]}".encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x0a" + struct.pack("!H", len(client_id)) + client_id
    packet = b"\x10" + bytes([len(variable)]) + variable
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(packet)
        connack = _recv_exact(sock, 4)
        if connack[:2] != b"\x20\x02" or connack[3] != 0:
            raise ConnectionError(f"unexpected CONNACK {connack!r}")
        sock.sendall(b"\xe0\x00")  # DISCONNECT


class MosquittoServer(_Server):
    name = "mosquitto"
    stop_signal = signal.SIGTERM  # clean exit, writes the persistence database

    def __init__(self, binary: str, tmpdir: Path, owner: pwd.struct_passwd | None, port: int,
                 lines: list[str] | None = None) -> None:
        super().__init__(tmpdir, owner, port)
        self.binary = binary
        self.config_path = tmpdir / "mosquitto.conf"
        self.persistence_dir = tmpdir / "persist"
        self.lines = lines  # None: the configuration below; else only a listener and these

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def write_config(self) -> None:
        self.persistence_dir.mkdir()
        if self.lines is not None:
            lines = [f"listener {self.port} {LOOPBACK}", *self.lines]
            if self.owner is not None:
                lines.append(f"user {self.owner.pw_name}")
            self.config_path.write_text("\n".join(lines) + "\n")
            _chown_tree(self.tmpdir, self.owner)
            return
        lines = [
            f"listener {self.port} {LOOPBACK}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.persistence_dir}",
            "persistence_file mosquitto.db",
            # also save while running, so that kill() loses at most ~1 s of state
            "autosave_interval 1",
            "max_queued_messages 1000000",
            # the window docs/mqtt.md asks of an external broker (the embedded broker's): readings
            # inside it are on the hub's side when the broker dies, readings behind it are not
            f"max_inflight_messages {MQTT_MAX_INFLIGHT}",
            "max_keepalive 65535",
            "persistent_client_expiration 1d",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp_format %H:%M:%S",
            "connection_messages true",
        ]
        if self.owner is not None:
            lines.append(f"user {self.owner.pw_name}")
        self.config_path.write_text("\n".join(lines) + "\n")
        _chown_tree(self.tmpdir, self.owner)

    def _command(self) -> list[str]:
        return [self.binary, "-c", str(self.config_path)]

    def _probe(self) -> bool:
        mqtt_ping(self.host, self.port)
        return True


# --------------------------------------------------------------------------
# InfluxDB 1.x


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class InfluxDBServer(_Server):
    name = "influxd"
    stop_signal = signal.SIGTERM

    def __init__(self, binary: str, tmpdir: Path, owner: pwd.struct_passwd | None, port: int, rpc_port: int) -> None:
        super().__init__(tmpdir, owner, port)
        self.binary = binary
        self.rpc_port = rpc_port
        self.config_path = tmpdir / "influxdb.conf"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_config(self) -> None:
        d = self.tmpdir
        for sub in ("meta", "data", "wal"):
            (d / sub).mkdir()
        self.config_path.write_text(
            f"""\
reporting-enabled = false
bind-address = "{LOOPBACK}:{self.rpc_port}"

[meta]
  dir = "{d / 'meta'}"
  logging-enabled = false

[data]
  dir = "{d / 'data'}"
  wal-dir = "{d / 'wal'}"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[retention]
  enabled = true

[http]
  enabled = true
  bind-address = "{LOOPBACK}:{self.port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false

[continuous_queries]
  enabled = true

[logging]
  level = "info"
  suppress-logo = true
"""
        )
        _chown_tree(self.tmpdir, self.owner)

    def _command(self) -> list[str]:
        return [self.binary, "run", "-config", str(self.config_path)]

    def _probe(self) -> bool:
        try:
            with _NO_PROXY_OPENER.open(f"{self.url}/ping", timeout=2) as resp:
                return resp.status == 204
        except urllib.error.HTTPError as exc:
            raise ConnectionError(f"/ping answered {exc.code}") from exc

    def _after_stop(self) -> None:
        super()._after_stop()
        deadline = time.monotonic() + 5
        while not _port_is_free(self.rpc_port) and time.monotonic() < deadline:
            time.sleep(0.05)


def _influxd_major(binary: str) -> int | None:
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v?(\d+)\.\d+", out.stdout + out.stderr)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------
# fixtures


def _launch(make: Callable[[], _Server]) -> _Server:
    server = make()
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


def launch_mosquitto(prefix: str = "hub-mqtt-", lines: list[str] | None = None) -> MosquittoServer:
    """Start a Mosquitto of the caller's own on a free port; the caller close()s it.

    `lines`: None for the fixture's configuration (persistence, a large queue, the in-flight
    window docs/mqtt.md asks for); else the broker gets a listener and only these lines (`[]`: a
    stock Mosquitto, its defaults for everything else).
    """
    binary = _find_binary("mosquitto")
    if binary is None:
        raise ServerStartError("mosquitto is not installed: apt-get install mosquitto")
    owner = _service_user("mosquitto")

    def make() -> MosquittoServer:
        server = MosquittoServer(binary, _make_tempdir(prefix, owner), owner, free_port(), lines)
        server.write_config()
        return server

    server = _launch(make)
    assert isinstance(server, MosquittoServer)
    return server


def launch_postgres(prefix: str = "hub-pg-") -> PostgresServer:
    """Initialise and start a PostgreSQL of the caller's own on a free port; the caller close()s it."""
    bindir = _find_postgres_bindir()
    if bindir is None:
        raise ServerStartError("postgres (initdb/postgres) is not installed: apt-get install postgresql")
    owner = _service_user("postgres")

    def make() -> PostgresServer:
        server = PostgresServer(bindir, _make_tempdir(prefix, owner), owner, free_port())
        server.initdb()
        return server

    server = _launch(make)
    assert isinstance(server, PostgresServer)
    return server


@pytest.fixture(scope="session")
def postgres_server():
    if _find_postgres_bindir() is None:
        _missing("postgres (initdb/postgres) not installed: apt-get install postgresql")
    began = time.monotonic()
    server = launch_postgres()
    server.start_seconds = time.monotonic() - began  # includes initdb
    yield server
    server.close(remove_at_exit=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of a fresh database on the session's PostgreSQL server."""
    if not postgres_server.running:
        postgres_server.start()  # a previous outage test left it stopped
    return postgres_server.url(postgres_server.create_database())


@pytest.fixture(scope="session")
def mosquitto_server():
    binary = _find_binary("mosquitto")
    if binary is None:
        _missing("mosquitto not installed: apt-get install mosquitto")
    server = launch_mosquitto()
    yield server
    server.close(remove_at_exit=True)


@pytest.fixture(scope="session")
def influxdb_server():
    binary = _find_binary("influxd")
    if binary is None:
        _missing("influxd not installed: apt-get install influxdb")
    major = _influxd_major(binary)
    if major is not None and major != 1:
        _missing(f"influxd at {binary} is InfluxDB {major}.x, need 1.x: apt-get install influxdb")
    owner = _service_user("influxdb")

    def make() -> InfluxDBServer:
        http_port = free_port()
        rpc_port = free_port()
        while rpc_port == http_port:
            rpc_port = free_port()
        server = InfluxDBServer(binary, _make_tempdir("hub-influx-", owner), owner, http_port, rpc_port)
        server.write_config()
        return server

    server = _launch(make)
    yield server
    server.close(remove_at_exit=True)
