"""Black-box ingest, the same scenario for the hub and for Home Assistant: MQTT discovery in, WebSocket out.

    .venv/bin/python bench/blackbox.py                           # the hub (`hub run` in its own process)
    .venv/bin/python bench/blackbox.py --ha /tmp/havenv          # Home Assistant installed in that venv
    bench/compare_ha.sh                                          # both, interleaved, one run

Only public surfaces: 1,000 sensors announced by retained MQTT discovery configs (prefix
`homeassistant`) on a throwaway Mosquitto with set_tcp_nodelay; the system under test started as
a user starts it (recorder on, SQLite); one WebSocket client in another process subscribed to
state_changed. Each state is the publisher's time.time(), so the client measures publish ->
state_changed at the WebSocket. Per rate (QoS 0): events received / published, p50/p99, the
system's CPU seconds per 1,000 readings (from /proc), and whether the client was cut off. Also
the cold start: process start until every discovered sensor is in /api/states, and RSS then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import aiomqtt

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import mqtt_ingest  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- the systems under test


class Hub:
    """`hub run` from this tree."""

    name = "hub"

    def __init__(self, workdir: Path, broker_port: int) -> None:
        self.config = workdir / "config"
        self.config.mkdir()
        self.port = free_port()
        (self.config / "configuration.yaml").write_text(
            f"mqtt:\n  broker: mqtt://127.0.0.1:{broker_port}\nrecorder:\nlogger:\n  default: warning\n")
        self.python = sys.executable

    def _cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([self.python, "-m", "hub", *args, "-c", str(self.config)], input=stdin,
                              capture_output=True, text=True, check=True, cwd=ROOT)
        return done.stdout

    def prepare(self) -> str:
        self._cli("user", "add", "bench", "--role", "owner", "--password-stdin", stdin="bench password 123\n")
        return self._cli("token", "create", "bench", "--name", "bench").strip().splitlines()[-1]

    def command(self) -> list[str]:
        return [self.python, "-m", "hub", "run", "-c", str(self.config), "--port", str(self.port)]


class HomeAssistant:
    """Home Assistant's `hass` from another venv, MQTT configured as its UI would (a config entry)."""

    name = "Home Assistant"

    def __init__(self, workdir: Path, broker_port: int, venv: Path) -> None:
        self.config = workdir / "ha"
        storage = self.config / ".storage"
        storage.mkdir(parents=True)
        self.port = free_port()
        self.venv = venv
        (self.config / "configuration.yaml").write_text(
            "homeassistant:\n  name: bench\n  time_zone: UTC\n  unit_system: metric\n"
            f"http:\n  server_host: 127.0.0.1\n  server_port: {self.port}\n"
            "api:\nauth:\nwebsocket_api:\nrecorder:\nlogger:\n  default: warning\n")
        entry = {"entry_id": uuid.uuid4().hex, "version": 1, "domain": "mqtt", "title": "127.0.0.1",
                 "data": {"broker": "127.0.0.1", "port": broker_port, "discovery": True,
                          "discovery_prefix": "homeassistant"},
                 "options": {}, "pref_disable_new_entities": False, "pref_disable_polling": False,
                 "source": "user", "unique_id": None, "disabled_by": None}
        (storage / "core.config_entries").write_text(json.dumps(
            {"version": 1, "minor_version": 1, "key": "core.config_entries", "data": {"entries": [entry]}}))
        (storage / "onboarding").write_text(json.dumps(
            {"version": 4, "minor_version": 1, "key": "onboarding",
             "data": {"done": ["user", "core_config", "analytics", "integration"]}}))

    def prepare(self) -> str:
        subprocess.run([str(self.venv / "bin" / "hass"), "--script", "auth", "-c", str(self.config), "add", "bench",
                        "bench password 123"], capture_output=True, check=True)
        return ""  # an access token comes from the login flow once it runs

    async def login(self, url: str) -> str:
        client = f"{url}/"
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/auth/login_flow", json={
                    "client_id": client, "handler": ["homeassistant", None], "redirect_uri": client}) as response:
                flow = await response.json()
            async with session.post(f"{url}/auth/login_flow/{flow['flow_id']}", json={
                    "username": "bench", "password": "bench password 123", "client_id": client}) as response:
                code = (await response.json())["result"]
            async with session.post(f"{url}/auth/token", data={
                    "grant_type": "authorization_code", "code": code, "client_id": client}) as response:
                return str((await response.json())["access_token"])

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "hass"), "-c", str(self.config), "--skip-pip"]


# ---------------------------------------------------------------- the scenario


async def announce(port: int, sensors: int) -> None:
    """Publish the retained discovery configs (before the system starts: a cold start)."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        for i in range(sensors):
            config = {"name": f"Bench {i}", "unique_id": f"bench_{i}", "state_topic": f"bench/{i}/state"}
            await client.publish(f"homeassistant/sensor/bench_{i}/config", json.dumps(config), qos=1, retain=True)


async def wait_live(url: str, token: str, sensors: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/api/states") as response:
                    if response.status == 200:
                        states = await response.json()
                        if sum(1 for s in states if s["entity_id"].startswith("sensor.bench_")) >= sensors:
                            return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    return False


async def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/api/") as response:
                    if response.status in (200, 401):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    message = f"{url} did not answer within {timeout:.0f} s"
    raise RuntimeError(message)


async def ws_client(url: str, token: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH / "mqtt_ingest.py"), "--ws-subscriber", url, token,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    assert (await proc.stdout.readline()).strip() == b"ready"
    return proc


async def ws_report(proc: asyncio.subprocess.Process) -> dict:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    report: dict = json.loads((await proc.stdout.read()).decode().strip().splitlines()[-1])
    await proc.wait()
    return report


async def run_system(system: Hub | HomeAssistant, broker_port: int, args: argparse.Namespace) -> dict:
    token = system.prepare()
    url = f"http://127.0.0.1:{system.port}"
    began = time.monotonic()
    proc = subprocess.Popen(system.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=system.config)
    result: dict = {"system": system.name, "rows": []}
    try:
        await wait_http(url, 120)
        if isinstance(system, HomeAssistant):
            token = await system.login(url)
        live = await wait_live(url, token, args.sensors, 180)
        result["start_s"] = time.monotonic() - began if live else None
        await asyncio.sleep(2)
        result["rss_start_mb"] = rss_of(proc.pid)
        print(f"[{system.name}] {args.sensors} sensors live {result['start_s'] or 0:.1f} s after process start; "
              f"RSS {result['rss_start_mb']:.0f} MB", flush=True)
        for rate in args.rates:
            ws = await ws_client(url, token)
            cpu = cpu_of(proc.pid)
            sent = await mqtt_ingest.run_publisher(broker_port, rate, args.seconds, 0, args.sensors, False)
            await asyncio.sleep(args.drain)
            report = await ws_report(ws)
            used = cpu_of(proc.pid) - cpu
            row = {"rate": rate, "sent": sent["sent"], "events": report["events"], "p50_ms": report["p50_ms"],
                   "p99_ms": report["p99_ms"], "cut_off": report["closed_at"] is not None,
                   "cpu_per_1000": used / max(report["events"], 1) * 1000,
                   "published": sent["sent"] / (sent["ended"] - sent["started"])}
            row["loss"] = 1 - row["events"] / row["sent"]
            row["sustained"] = row["loss"] < 0.01 and not row["cut_off"] and row["published"] > 0.95 * rate
            result["rows"].append(row)
            p = f"p50 {row['p50_ms']:.2f} / p99 {row['p99_ms']:.2f} ms" if row["p50_ms"] is not None else "no events"
            print(f"[{system.name}] {rate:>6}/s: {row['events']:>7}/{row['sent']:<7} loss {row['loss']:6.2%} {p} "
                  f"CPU {row['cpu_per_1000']:.3f} s/1000{' CUT OFF' if row['cut_off'] else ''} "
                  f"{'sustained' if row['sustained'] else 'NOT sustained'} (load {os.getloadavg()[0]:.1f})", flush=True)
        result["rss_end_mb"] = rss_of(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return result


async def main(args: argparse.Namespace) -> None:
    systems = ["ha" if args.ha else "hub"] if not args.both else ["hub", "ha"]
    results = []
    for repeat in range(args.repeat):
        for which in systems:
            with tempfile.TemporaryDirectory(prefix="bench-blackbox-") as tmp:
                broker, port = mqtt_ingest.start_mosquitto(Path(tmp))
                try:
                    await announce(port, args.sensors)
                    system = Hub(Path(tmp), port) if which == "hub" else HomeAssistant(Path(tmp), port, Path(args.ha))
                    print(f"== {system.name}, run {repeat + 1}", flush=True)
                    results.append(await run_system(system, port, args))
                finally:
                    broker.terminate()
                    broker.wait(5)
    print("\nsummary (highest rate sustained: <1 % lost, client not cut off; p50/p99 publish -> WebSocket)")
    for result in results:
        ok = [r["rate"] for r in result["rows"] if r["sustained"]]
        at_1k = next((r for r in result["rows"] if r["rate"] == 1000), None)
        lat = f"1k/s p50 {at_1k['p50_ms']:.2f} p99 {at_1k['p99_ms']:.2f} ms, CPU {at_1k['cpu_per_1000']:.3f} s/1000; " \
            if at_1k and at_1k["p50_ms"] is not None else ""
        p99s = " / ".join(f"{r['rate'] // 1000}k {r['p99_ms']:.0f}" for r in result["rows"]
                          if r["rate"] > 1000 and r["p99_ms"] is not None and r["sustained"])
        print(f"  {result['system']:<15} sustained {max(ok) if ok else 'none'}/s; {lat}p99 ms {p99s or '-'}; "
              f"start {result.get('start_s') or 0:.1f} s, RSS {result.get('rss_start_mb', 0):.0f} -> "
              f"{result.get('rss_end_mb', 0):.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ha", metavar="VENV", help="measure Home Assistant installed in this venv")
    parser.add_argument("--both", action="store_true", help="the hub and Home Assistant (--ha), alternating")
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 2000, 5000, 10000, 15000])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--drain", type=float, default=2.0, help="seconds to wait for stragglers after each rate")
    parser.add_argument("--repeat", type=int, default=1)
    arguments = parser.parse_args()
    if arguments.both and not arguments.ha:
        parser.error("--both needs --ha VENV")
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        parser.error("needs mosquitto (apt-get install mosquitto)")
    asyncio.run(main(arguments))
