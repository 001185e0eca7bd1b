"""Relay round trip: WebSocket call_service switch.turn_on -> the device's echo -> state_changed.

Three processes, as in a real installation: the hub (this one) with the mqtt and relay
integrations and its SQLite database; a device process that echoes every relay command on its
state topic (paho); a WebSocket client process that calls switch.turn_on/turn_off alternately
and times each call until the confirmed state_changed arrives. All through a real Mosquitto.

With the relay integration every command's lifecycle (queued, sent, acknowledged, confirmed)
is written to relay_commands and the audit log; `--compare` also runs the plain MQTT switch
without it, to show what the lifecycle costs.

    .venv/bin/python bench/relay_roundtrip.py [--count 1000] [--compare]

Reference: Home Assistant 2024.1.6 measured on this machine p50 3.3-3.8 ms, p99 9 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NODE = "bench-1"
BASE = f"devices/{NODE}"


# ---------------------------------------------------------------- the device (own process)


def run_device(port: int, prefix: str) -> None:
    """Announce one relay and echo every command at once, like the node firmware."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{NODE}-echo")
    client.will_set(f"{BASE}/status", "offline", qos=1, retain=True)

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        word = message.payload.decode().upper()
        client.publish(f"{BASE}/relay1/state", "ON" if word == "ON" else "OFF", retain=True)

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(f"{BASE}/relay1/set")
    config = {
        "~": BASE, "name": "Relay 1", "uniq_id": f"{NODE}_relay1", "obj_id": "bench_relay1",
        "avty_t": "~/status", "cmd_t": "~/relay1/set", "stat_t": "~/relay1/state", "pl_on": "ON", "pl_off": "OFF",
        "dev": {"ids": [NODE], "name": "Bench", "mf": "powerhub", "mdl": "PZEM-004T v3 node"},
    }
    client.publish(f"{BASE}/status", "online", qos=1, retain=True)
    client.publish(f"{BASE}/relay1/state", "OFF", qos=1, retain=True)
    client.publish(f"{prefix}/switch/{NODE}/relay1/config", json.dumps(config), qos=1, retain=True)
    print("ready", flush=True)
    client.loop_forever()


# ---------------------------------------------------------------- the WebSocket client (own process)


async def run_client(url: str, token: str, count: int, warmup: int) -> None:
    """Alternate turn_on/turn_off; print each round trip in ms as JSON."""
    import aiohttp

    entity_id = "switch.bench_relay1"
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/api/websocket", max_msg_size=0) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "state_changed"})
        assert (await ws.receive_json())["success"]
        await ws.send_json({"id": 2, "type": "get_states"})
        states = (await ws.receive_json())["result"]
        current = next(s["state"] for s in states if s["entity_id"] == entity_id)
        times: list[float] = []
        next_id = 3
        for index in range(count + warmup):
            target = "off" if current == "on" else "on"
            began = time.perf_counter()
            await ws.send_json({"id": next_id, "type": "call_service", "domain": "switch", "service": f"turn_{target}",
                                "target": {"entity_id": entity_id}})
            result = confirmed = False
            while not (result and confirmed):
                message = await ws.receive_json()
                for item in message if isinstance(message, list) else [message]:
                    if item.get("id") == next_id and item["type"] == "result":
                        if not item["success"]:
                            raise SystemExit(f"call_service failed: {item}")
                        result = True
                    elif item["type"] == "event":
                        data = item["event"]["data"]
                        new = data.get("new_state") or {}
                        if data["entity_id"] == entity_id and new.get("state") == target and not confirmed:
                            confirmed = True
                            if index >= warmup:
                                times.append((time.perf_counter() - began) * 1000)
            current = target
            next_id += 1
        print(json.dumps(times), flush=True)


# ---------------------------------------------------------------- the hub (this process)


from mqtt_ingest import start_mosquitto  # noqa: E402


async def measure(workdir: Path, port: int, count: int, warmup: int, relay: bool) -> dict[str, float]:
    """Run one hub with a fresh database; return the figures."""
    import logging

    from sqlalchemy import func, select

    from hub import bootstrap
    from integrations.relay.models import RelayCommandRow

    logging.basicConfig(level=logging.WARNING)
    prefix = f"bench{int(time.time() * 1000) % 10**8}"
    config = workdir / ("config-relay" if relay else "config-plain")
    config.mkdir()
    (config / "configuration.yaml").write_text(textwrap.dedent(f"""\
        mqtt:
          broker: mqtt://127.0.0.1:{port}
          discovery_prefix: {prefix}
        relay:
          firmware_relays: {str(relay).lower()}
        """))
    runtime = await bootstrap.start(config, config / "data", port=0)
    hub = runtime.hub
    device = await asyncio.create_subprocess_exec(sys.executable, __file__, "--device", "--port", str(port), "--prefix", prefix,
                                                  stdout=asyncio.subprocess.PIPE)
    try:
        assert device.stdout is not None
        await device.stdout.readline()
        deadline = time.monotonic() + 10
        while getattr(hub.states.get("switch.bench_relay1"), "state", None) not in ("on", "off"):
            if time.monotonic() > deadline:
                raise RuntimeError("the bench relay was not discovered")
            await asyncio.sleep(0.02)
        user = await hub.auth.add_user("bench", "bench password", "owner")
        token = await hub.auth.create_long_lived_token(user.id, "bench")
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", "--url", runtime.url, "--token", token, "--count", str(count), "--warmup", str(warmup),
            stdout=asyncio.subprocess.PIPE)
        out, _ = await client.communicate()
        times = json.loads(out)
        rows = {}
        if relay:
            from integrations.relay import manager_of

            await manager_of(hub).store.flush()
            async with hub.db() as session:
                result = await session.execute(select(RelayCommandRow.status, func.count()).group_by(RelayCommandRow.status))
                rows = dict(result.all())
    finally:
        device.terminate()
        await device.wait()
        await bootstrap.stop(runtime)
    times.sort()
    return {
        "n": len(times),
        "p50": statistics.median(times),
        "p90": times[int(len(times) * 0.90)],
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        "mean": statistics.fmean(times),
        "max": times[-1],
        "rows": rows,
    }


def report(name: str, figures: dict[str, float]) -> None:
    print(f"{name:<36} n={figures['n']}  p50 {figures['p50']:.2f} ms  p90 {figures['p90']:.2f} ms  "
          f"p99 {figures['p99']:.2f} ms  mean {figures['mean']:.2f} ms  max {figures['max']:.2f} ms")
    if figures["rows"]:
        print(f"{'':<36} relay_commands rows by status: {figures['rows']}")


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_mosquitto(Path(tmp))
        try:
            print(f"mosquitto on port {port}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}; "
                  f"{args.count} round trips after {args.warmup} warm-up")
            with_relay = await measure(Path(tmp), port, args.count, args.warmup, relay=True)
            report("relay (lifecycle in the database)", with_relay)
            if args.compare:
                plain = await measure(Path(tmp), port, args.count, args.warmup, relay=False)
                report("plain MQTT switch (no lifecycle)", plain)
            print("goal: p99 < 4.5 ms; Home Assistant 2024.1.6 here: p50 3.3-3.8 ms, p99 9 ms")
        finally:
            broker.terminate()
            broker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--compare", action="store_true", help="also measure the plain MQTT switch")
    parser.add_argument("--device", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="homeassistant", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device:
        run_device(args.port, args.prefix)
    elif args.client:
        asyncio.run(run_client(args.url, args.token, args.count, args.warmup))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
