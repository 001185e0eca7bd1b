"""The `hub` command as a user runs it: in a subprocess, against a config folder."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HUB = [sys.executable, "-m", "hub"]
# Each test starts `python -m hub` several times; on a loaded 2-core machine one start took 9 s,
# so the suite's 60 s per test (sized for tests in one process) is too short to mean "it hangs".
pytestmark = pytest.mark.timeout(240)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hub(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT)


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_version() -> None:
    result = hub("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("hub 0.")


def test_shipped_config_is_valid(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns(".storage", "secrets.yaml"))
    result = hub("check-config", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout
    # Checking writes nothing: a first `scripts/run` after it makes the data dir private itself.
    assert not (config / ".storage").exists()


def test_check_config_prints_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "homeassistant:\n  name: Home\n  unit_system: imperial\nhttp:\n  server_port: lots\nnonsense: 1\n"
    )
    result = hub("check-config", "-c", str(tmp_path))
    assert result.returncode == 1
    assert "configuration.yaml:3: homeassistant.unit_system" in result.stderr
    assert "configuration.yaml:5: http.server_port" in result.stderr
    assert "configuration.yaml:6" in result.stderr and "nonsense" in result.stderr


def test_run_refuses_a_broken_config(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("http:\n  server_port: [1\n")
    result = hub("run", "-c", str(tmp_path), "--data", str(tmp_path / "data"))
    assert result.returncode == 1
    assert "configuration.yaml:3: invalid YAML syntax" in result.stderr
    assert "started on line 2" in result.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_user_token_and_run_answer_http_then_stop_quickly(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("homeassistant:\n  name: CLI test\n")
    data = ["-c", str(config), "--data", str(tmp_path / "data")]
    added = hub("user", "add", "owner", "--role", "owner", "--password-stdin", *data, stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    again = hub("user", "add", "owner", "--password-stdin", *data, stdin="correct horse battery\n")
    assert again.returncode == 1 and "exists" in again.stderr
    short = hub("user", "add", "bob", "--password-stdin", *data, stdin="short\n")
    assert short.returncode == 1 and "8 characters" in short.stderr
    # How long this machine takes right now to start the hub's CLI and open its database: the
    # start and stop budgets below scale with it, so a loaded machine is not taken for a hang.
    began = time.monotonic()
    created = hub("token", "create", "owner", "--name", "laptop", *data)
    baseline = time.monotonic() - began
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 32
    unknown = hub("token", "create", "nobody", "--name", "x", *data)
    assert unknown.returncode == 1 and "no user named" in unknown.stderr

    # A catch for a start or stop that hangs, not a benchmark (start time is in bench/): a quiet
    # machine answers in about 1.5 s (a CLI call there takes about 0.5 s) and stops in well under 1 s.
    start_budget, stop_budget = max(5.0, 10 * baseline), max(2.0, 4 * baseline)
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen([*HUB, "run", *data, "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        status = None
        while time.monotonic() - started < start_budget:
            try:
                status, body = get(f"http://127.0.0.1:{port}/api/", token)
                break
            except OSError:
                time.sleep(0.05)
        answered = time.monotonic() - started
        assert status == 200 and b"API running." in body
        assert answered < start_budget, f"first HTTP answer after {answered:.2f} s (a CLI call took {baseline:.2f} s)"
        assert get(f"http://127.0.0.1:{port}/api/")[0] == 401
        assert get(f"http://127.0.0.1:{port}/api/", "wrong")[0] == 401
        stop_began = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=max(10.0, 2 * stop_budget)) == 0
        stopped = time.monotonic() - stop_began
        assert stopped < stop_budget, f"stopped after {stopped:.2f} s (a CLI call took {baseline:.2f} s)"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        out, err = process.communicate(timeout=5)
    assert "Hub running at" in out + err


def test_sigterm_while_starting_stops_the_hub_cleanly(tmp_path: Path) -> None:
    """systemd may stop a hub that is still starting: it stops cleanly (exit 0), not killed."""
    (tmp_path / "configuration.yaml").write_text("")
    process = subprocess.Popen([*HUB, "run", "-c", str(tmp_path), "--port", str(free_port())], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        storage = tmp_path / ".storage"
        deadline = time.monotonic() + 20
        while not storage.exists() and time.monotonic() < deadline:  # the hub has begun to start
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.communicate(timeout=5)


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_stops_the_hub(tmp_path: Path, sig: int) -> None:
    (tmp_path / "configuration.yaml").write_text("")
    port = free_port()
    process = subprocess.Popen([*HUB, "run", "-c", str(tmp_path), "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # SIGTERM to a running hub: wait until it answers (a loaded machine took over 10 s to start),
        # else the signal would land before the hub installed its handler.
        deadline, answered = time.monotonic() + 120, False
        while not answered and time.monotonic() < deadline and process.poll() is None:
            try:
                get(f"http://127.0.0.1:{port}/api/")
                answered = True
            except OSError:
                time.sleep(0.05)
        assert answered, "the hub never answered HTTP"
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.communicate(timeout=5)
    assert (tmp_path / ".storage" / "hub.db").exists() or any((tmp_path / ".storage").iterdir())


def test_check_config_reports_bad_automations_and_scripts(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("automation: !include automations.yaml\nscript: !include scripts.yaml\n")
    (tmp_path / "automations.yaml").write_text(
        "- id: fine\n  triggers: [{trigger: state, entity_id: sensor.x}]\n  actions: [{delay: 1}]\n"
        "- id: broken\n  triggers:\n    - trigger: nonsense\n  actions: []\n"
    )
    (tmp_path / "scripts.yaml").write_text("slow:\n  sequence:\n    - delay: lots\n")
    result = hub("check-config", "-c", str(tmp_path))
    assert result.returncode == 1
    assert "automations.yaml:6: automation.broken.trigger: unknown trigger platform 'nonsense'" in result.stderr
    assert "scripts.yaml:3: script.slow.delay: expected a duration" in result.stderr
    assert "automation.fine" not in result.stderr


def test_user_list_passwd_remove_and_no_terminal(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("homeassistant:\n  name: CLI test\n")
    data = ["-c", str(config), "--data", str(tmp_path / "data")]
    # No terminal (stdin is a pipe) and no --password-stdin: a clear error, never a traceback.
    blind = hub("user", "add", "ann", "--role", "owner", *data, stdin="")
    assert blind.returncode == 1 and "--password-stdin" in blind.stderr and "Traceback" not in blind.stderr
    assert hub("user", "add", "ann", "--role", "owner", "--password-stdin", *data, stdin="ann's password\n").returncode == 0
    assert hub("user", "add", "bob", "--password-stdin", *data, stdin="bob's password\n").returncode == 0
    listed = hub("user", "list", *data)
    assert listed.returncode == 0
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [row[:3] for row in rows] == [["ann", "owner", "yes"], ["bob", "user", "yes"]]

    reset = hub("user", "passwd", "bob", "--password-stdin", *data, stdin="bob's new password\n")
    assert reset.returncode == 0, reset.stderr
    assert hub("user", "passwd", "nobody", "--password-stdin", *data, stdin="whatever123\n").returncode == 1
    last_owner = hub("user", "remove", "ann", *data)
    assert last_owner.returncode == 1 and "active owner" in last_owner.stderr
    assert hub("user", "remove", "bob", *data).returncode == 0
    assert [line.split()[0] for line in hub("user", "list", *data).stdout.splitlines()[1:]] == ["ann"]

    # The new password works and every change is in the audit log.
    import sqlite3

    with sqlite3.connect(next((tmp_path / "data").glob("*.db"))) as db:
        actions = [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions[:4] == ["user add", "user add", "user passwd", "user remove"]
