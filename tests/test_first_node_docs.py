"""The README's and docs/raspberry-pi.md's "first node" steps, run as written: a LAN broker,
`hub device add`, and the simulator on the config.json it wrote, until the node is live."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from integrations.mqtt.dynsec import find_plugin
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(find_plugin() is None, reason="mosquitto with dynamic security not installed")


def section_blocks(path: Path, heading: str, end: str) -> dict[str, list[str]]:
    """Return the fenced blocks under a heading, by language."""
    section = path.read_text().split(heading, 1)[1].split(end, 1)[0]
    blocks: dict[str, list[str]] = {}
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", section, re.S):
        blocks.setdefault(lang, []).append(body)
    return blocks


def translate(line: str, paths: dict[str, str]) -> list[str] | None:
    """Turn a documented shell line into argv for this checkout; None for a line the test does itself."""
    words = shlex.split(line, comments=True)
    if not words or words[:2] == ["sudo", "systemctl"]:
        return None
    if words[:3] == ["sudo", "-u", "hub"]:
        words = words[3:]
    program = {".venv/bin/hub": [sys.executable, "-m", "hub"], "/opt/hub/venv/bin/hub": [sys.executable, "-m", "hub"],
               ".venv/bin/python": [sys.executable], "/opt/hub/venv/bin/python": [sys.executable]}[words[0]]
    args = []
    for word in words[1:]:
        for documented, here in paths.items():
            word = word.replace(documented, here)
        args.append(word)
    return program + args


def get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, {}
    except OSError:
        return 0, {}


def wait(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.parametrize(("doc", "heading", "end", "paths"), [
    ("README.md", "### Your first node", "\n## ", {}),
    ("docs/raspberry-pi.md", "## 5. Your first node", "\n## ", {"/etc/hub": "config", "/var/lib/hub": "config/.storage"}),
])
def test_first_node_as_documented(tmp_path: Path, doc: str, heading: str, end: str, paths: dict[str, str]) -> None:
    blocks = section_blocks(ROOT / doc, heading, end)
    (yaml,) = blocks["yaml"]
    config = tmp_path / "config"
    config.mkdir()
    # The documented settings, on free ports so that tests run side by side.
    (config / "configuration.yaml").write_text(
        yaml + f"    port: {free_port()}\n    tls_port: {free_port()}\n    host: 127.0.0.1\n")
    data = config / ".storage"
    http_port = free_port()
    hub = [sys.executable, "-m", "hub"]
    subprocess.run([*hub, "user", "add", "me", "--role", "owner", "--password-stdin", "-c", str(config)],
                   input="a long password\n", check=True, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    token = subprocess.run([*hub, "token", "create", "me", "--name", "test", "-c", str(config)], check=True,
                           capture_output=True, text=True, cwd=tmp_path, timeout=60).stdout.split()[-1]
    log = (tmp_path / "processes.log").open("w")
    running = [subprocess.Popen([*hub, "run", "-c", str(config), "--port", str(http_port)], cwd=tmp_path,
                                stdout=log, stderr=log)]
    try:
        wait(lambda: (data / "mqtt_broker" / "endpoint.json").exists()
             and get(f"http://127.0.0.1:{http_port}/api/", token)[0] == 200, "the hub")
        for line in "\n".join(blocks["sh"]).splitlines():
            argv = translate(line, paths)
            if argv is None:
                continue
            if argv[1:3] == ["-m", "firmware.sim"]:
                running.append(subprocess.Popen(argv, cwd=tmp_path, stdout=log, stderr=log))
                continue
            result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, (line, result.stderr)
            assert "password" in result.stdout
        state = wait(lambda: (lambda s: s if s[0] == 200 and s[1]["state"] not in ("unavailable", "unknown") else None)(
            get(f"http://127.0.0.1:{http_port}/api/states/switch.kitchen_1_relay1", token)), "the node's relay")
        assert state[1]["state"] in ("on", "off")
    finally:
        for process in reversed(running):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        print((tmp_path / "processes.log").read_text()[-3000:])
