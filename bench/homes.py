"""Many homes in one process: memory per home, start time, ingest across homes, WebSocket fan-out.

    .venv/bin/python bench/homes.py                      # 1 and 100 homes of 20 entities each
    .venv/bin/python bench/homes.py --homes 1 10 --entities 20 --messages 20000
    .venv/bin/python bench/homes.py --homes 100 --profile /tmp/fanout  # cProfile of the fan-out: /tmp/fanout-100.prof
    .venv/bin/python bench/homes.py --homes 1 100 --compare ../main  # the two trees take turns; ratios

A real PostgreSQL and Mosquitto are started (throwaway, loopback). For each home count, a fresh
hub process is started from a configuration with a `homes:` section (docs/homes.md), serving as
an application role (migrated by the owner role); each home's 20 sensors come from retained MQTT
discovery configs under that home's topic root. It prints:
- start: seconds from `bootstrap.start` until every home's every sensor exists, warm (a restart)
  and cold (a new database: the migration and `hub db grant-app-role` counted in);
- connections: the broker's connected clients while the homes run (Mosquitto's
  `$SYS/broker/clients/connected`, less the reader): one per process since the homes share it;
- RSS: the process's resident memory before the first start (imports done) and once the second
  start is idle (with `hub run`'s heap policy); per home, and the marginal cost of a home (the
  slope between the two counts: the figure to quote);
  the difference per home, and the marginal cost of a home (the slope between the two counts);
- ingest: a separate publisher process sends readings round-robin over every home's sensors
  (QoS 0, as fast as it can); messages per second from the first to the last state change, with
  no WebSocket client, then again while the clients below listen (they run in the hub's process);
- fan-out: one WebSocket client per home (subscribe_events state_changed, on that home's
  ?home_id=): events delivered per second over all clients, and whether each client got exactly
  its own home's changes (a client that sees another home's entity is counted as a leak);
- CPU: the process's CPU seconds per 1,000 readings, alone and with the clients (they count:
  they run in the process), which a loaded machine disturbs far less than the rates.
On a shared machine, compare within one run (the ratio between counts), not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._rss import rss_mb  # noqa: E402 - after the path
from tests.servers import (  # noqa: E402 - after the path: the bench runs from a checkout
    _find_binary,
    _find_postgres_bindir,
    launch_mosquitto,
    launch_postgres,
)

PUBLISHER = """
import asyncio, sys, time, aiomqtt
host, port, roots, entities, count, offset = (sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4]),
                                              int(sys.argv[5]), int(sys.argv[6]))
async def main():
    async with aiomqtt.Client(host, port, max_queued_outgoing_messages=0) as client:
        for n in range(count):
            root = roots[n % len(roots)]
            entity = (n // len(roots)) % entities
            await client.publish(f"{root}devices/node/s{entity}", str(offset + n), qos=0)
        await client.publish("bench/done", b"", qos=1)
asyncio.run(main())
"""



def home_ids(homes: int) -> list[str]:
    return [f"h{n:03d}" for n in range(homes)]


def write_config(folder: Path, db_url: str, owner_url: str, broker: str, homes: int, run: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"storage:\n  db_url: {db_url}\n  migrate_url: {owner_url}", f"mqtt:\n  broker: {broker}", "homes:"]
    for home in home_ids(homes):
        lines.append(f"  - id: {home}\n    topic_root: {run}/{home}/\n    members: {{bench: owner}}")
    (folder / "configuration.yaml").write_text("\n".join(lines) + "\n")
    return folder


async def retain_configs(host: str, port: int, roots: list[str], entities: int) -> None:
    import aiomqtt

    async with aiomqtt.Client(host, port, max_queued_outgoing_messages=0) as client:
        for root in roots:
            for n in range(entities):
                config = {"name": f"S{n}", "unique_id": f"{root}s{n}", "state_topic": f"{root}devices/node/s{n}",
                          "unit_of_measurement": "W", "device": {"identifiers": [f"{root}node"], "name": "Node"}}
                await client.publish(f"{root}homeassistant/sensor/node/s{n}/config", json.dumps(config), qos=0,
                                     retain=True)
        await client.publish("bench/done", b"", qos=1)


async def broker_clients(host: str, port: int) -> int:
    """Mosquitto's count of connected clients, less the one asking (a fresh value: $SYS every 10 s)."""
    import aiomqtt

    values: list[int] = []
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe("$SYS/broker/clients/connected")
        async with asyncio.timeout(25):
            async for message in client.messages:
                values.append(int(bytes(message.payload)))  # type: ignore[arg-type]
                if len(values) == 2:  # the retained one may predate this reader
                    break
    return values[-1] - 1


async def child(args: argparse.Namespace) -> dict[str, Any]:
    """Run in a fresh process: start N homes, measure, print one JSON line."""
    import aiohttp

    from hub import bootstrap, heap, plugins
    from hub.core.bus import callback
    from hub.storage.engine import create_engine, migrate
    from hub.storage.rls import grant_app_role
    from tests.homes.conftest import make_roles

    roots = [f"{args.run}/{home}/" for home in home_ids(args.homes)]
    await retain_configs(args.mqtt_host, args.mqtt_port, roots, args.entities)
    folder = Path(args.tmp)
    roles = await make_roles(args.db_url)
    config = write_config(folder / "config", roles.app_url, roles.owner_url, f"mqtt://{args.mqtt_host}:{args.mqtt_port}",
                          args.homes, args.run)
    total = args.homes * args.entities

    def live(homes: Any) -> int:
        return sum(sum(1 for s in h.hub.states.all() if s.entity_id.startswith("sensor.")) for h in homes.homes.values())

    before = rss_mb()
    # Cold: a new database, migrated once and its application role granted, as an operator does first.
    began = time.perf_counter()
    checked = bootstrap.check_config(config)
    owner = create_engine(roles.owner_url)
    await migrate(owner, plugins.migration_locations(checked.integrations))
    await grant_app_role(owner, roles.app_role)
    await owner.dispose()
    runtime = await bootstrap.start(config, folder / "data", port=0, checked=checked)
    while live(runtime.homes) < total:
        await asyncio.sleep(0.05)
    cold = time.perf_counter() - began
    await bootstrap.stop(runtime)
    # Warm, as `hub run` restarts: the figures below are this start's.
    began = time.perf_counter()
    runtime = await bootstrap.start(config, folder / "data", port=0)
    homes = runtime.homes
    assert homes is not None
    while live(homes) < total:
        await asyncio.sleep(0.05)
    started = time.perf_counter() - began
    heap_policy = asyncio.get_running_loop().create_task(heap.keep_young())  # as `hub run` does
    await asyncio.sleep(3)  # settle: what the start left behind is collected, the heap frozen
    after = rss_mb()
    connections = await broker_clients(args.mqtt_host, args.mqtt_port)
    # One user, made in the first home and by `homes:` a member of every home, with a token made there.
    made_in = homes.default.auth
    user = await made_in.add_user("bench", "bench-password", "owner")
    token = await made_in.create_long_lived_token(user.id, "bench")
    got: dict[str, int] = {}
    leaks = 0

    async def client(session: aiohttp.ClientSession, home: str, ready: asyncio.Event) -> None:
        nonlocal leaks
        async with session.ws_connect(f"{runtime.url}/api/websocket?home_id={home}") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "state_changed"})
            await ws.receive_json()
            ready.set()
            index = home_ids(args.homes).index(home)
            async for message in ws:
                for item in (msg if isinstance(msg := json.loads(message.data), list) else [msg]):
                    # Reading n goes to home n % homes: any other value came from another home.
                    value = item["event"]["data"]["new_state"]["state"]
                    if value.isdigit() and (int(value) - args.messages) % args.homes != index:
                        leaks += 1
                    got[home] = got.get(home, 0) + 1

    changes = 0
    first = last = 0.0

    @callback  # inline, as the hub's own listeners: a plain function would cost an executor job per event
    def count(_event: Any) -> None:
        nonlocal changes, first, last
        now = time.perf_counter()
        if changes == 0:
            first = now
        changes += 1
        last = now

    for h in homes.homes.values():
        h.hub.bus.listen("state_changed", count)

    async def publish(offset: int) -> None:
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PUBLISHER, args.mqtt_host, str(args.mqtt_port), ",".join(roots),
            str(args.entities), str(args.messages), str(offset))
        await publisher.wait()

    # Ingest alone first: no WebSocket client in this process takes CPU from it.
    cpu = time.process_time()
    await publish(0)
    deadline = time.perf_counter() + 60
    while changes < args.messages and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    ingest = (changes, changes / max(last - first, 1e-9))
    ingest_cpu = time.process_time() - cpu
    changes = 0
    async with aiohttp.ClientSession() as session:
        readies = []
        tasks = []
        for home in home_ids(args.homes):
            ready = asyncio.Event()
            readies.append(ready)
            tasks.append(asyncio.create_task(client(session, home, ready)))
        await asyncio.gather(*(r.wait() for r in readies))
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu = time.process_time()
        await publish(args.messages)
        deadline = time.perf_counter() + 30
        while changes < args.messages and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        delivered_by = time.perf_counter() + 10
        while sum(got.values()) < changes and time.perf_counter() < delivered_by:
            await asyncio.sleep(0.05)
        ws_done = time.perf_counter()
        ws_cpu = time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{args.profile}-{args.homes}.prof")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    delivered = sum(got.values())
    heap_policy.cancel()
    await bootstrap.stop(runtime)
    return {
        "homes": args.homes, "cold_start_s": cold, "start_s": started, "rss_before": before, "rss_after": after,
        "broker_connections": connections,
        "messages": args.messages, "changes": ingest[0], "ingest_per_s": ingest[1],
        "ingest_with_ws_per_s": changes / max(last - first, 1e-9),
        "ws_delivered": delivered, "ws_per_s": delivered / max(ws_done - first, 1e-9), "ws_leaks": leaks,
        # CPU of this process (hub and clients) per 1,000 readings: robust to a loaded machine, unlike the rates.
        "ingest_cpu_ms": ingest_cpu * 1e6 / max(ingest[0], 1), "ws_cpu_ms": ws_cpu * 1e6 / max(delivered, 1),
        "ws_min_per_home": min(got.values()) if got else 0, "ws_max_per_home": max(got.values()) if got else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--homes", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--entities", type=int, default=20)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--compare", metavar="TREE",
                        help="another checkout (same bench arguments): the two take turns, then the ratios are printed")
    parser.add_argument("--rounds", type=int, default=2, help="with --compare: turns of each tree per home count")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="write a cProfile of each count's fan-out phase (hub and clients) to PREFIX-<homes>.prof")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--mqtt-host", help=argparse.SUPPRESS)
    parser.add_argument("--mqtt-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        args.homes = args.homes[0]
        print(json.dumps(asyncio.run(child(args))), flush=True)
        return
    if _find_postgres_bindir() is None or _find_binary("mosquitto") is None:
        sys.exit("needs PostgreSQL and Mosquitto: apt-get install postgresql mosquitto")
    postgres = launch_postgres("bench-homes-pg-")
    broker = launch_mosquitto("bench-homes-mqtt-")
    trees = [("this tree", ROOT)] + ([("compared", Path(args.compare).resolve())] if args.compare else [])
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
    try:
        print(f"{args.entities} sensors per home, {args.messages:,} readings over all homes; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
              + (f"; this tree and {args.compare} take turns, {args.rounds} round(s)" if args.compare else ""))
        for round_ in range(args.rounds if args.compare else 1):
            for homes in args.homes:
                for name, tree in trees:
                    profile = args.profile if args.profile and name == "this tree" and round_ == 0 else None
                    result = run_child(tree, homes, args, postgres, broker, f"b{os.getpid()}x{homes}r{round_}{name[0]}",
                                       profile)
                    results[name].append(result)
                    print(f"{name + ': ' if args.compare else ''}{describe(result)}", flush=True)
        own = results["this tree"]
        if len(args.homes) >= 2:
            low, high = own[0], own[len(args.homes) - 1]
            slope = (high["rss_after"] - low["rss_after"]) / (high["homes"] - low["homes"])
            start_slope = (high["start_s"] - low["start_s"]) / (high["homes"] - low["homes"])
            print(f"marginal cost of a home: {slope:.2f} MB RSS, {start_slope * 1000:.0f} ms of start")
        if args.compare:
            for homes in args.homes:
                mine = [r for r in own if r["homes"] == homes]
                other = [r for r in results["compared"] if r["homes"] == homes]
                ratios = ", ".join(
                    f"{label} {statistics.median(r[key] for r in mine) / statistics.median(r[key] for r in other):.2f}"
                    for key, label in (("ingest_per_s", "ingest/s"), ("ingest_with_ws_per_s", "ingest/s with the clients"),
                                       ("ws_per_s", "WebSocket events/s"), ("ingest_cpu_ms", "CPU per reading alone"),
                                       ("ws_cpu_ms", "CPU per reading with the clients")))
                print(f"{homes:4d} homes, this tree / compared (medians of {len(mine)}): {ratios}")
    finally:
        broker.close()
        postgres.close()


def run_child(tree: Path, homes: int, args: argparse.Namespace, postgres: Any, broker: Any, run: str,
              profile: str | None) -> dict[str, Any]:
    """Run one home count in a fresh hub process from `tree`; return its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-homes-") as tmp:
        command = [sys.executable, str(tree / "bench" / "homes.py"), "--child", "--homes", str(homes),
                   "--entities", str(args.entities), "--messages", str(args.messages),
                   "--db-url", postgres.url(postgres.create_database()), "--mqtt-host", broker.host,
                   "--mqtt-port", str(broker.port), "--tmp", tmp, "--run", run,
                   *(["--profile", profile] if profile else [])]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tree)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            sys.exit(f"{homes} homes ({tree}): the hub process failed")
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def describe(result: dict[str, Any]) -> str:
    """One line of a home count's figures."""
    homes = result["homes"]
    per_home = (result["rss_after"] - result["rss_before"]) / homes
    return (f"{homes:4d} homes: start {result['start_s']:6.2f} s (cold {result['cold_start_s']:.2f} s) | RSS "
            f"{result['rss_before']:.0f} -> {result['rss_after']:.0f} MB ({per_home:.2f} MB/home) | "
            f"{result['broker_connections']} broker connections | ingest "
            f"{result['ingest_per_s']:8,.0f} msg/s ({result['changes']:,}/{result['messages']:,} changes; "
            f"{result['ingest_with_ws_per_s']:,.0f} with the clients) | "
            f"WebSocket {result['ws_per_s']:8,.0f} events/s to {homes} clients "
            f"({result['ws_min_per_home']:,}-{result['ws_max_per_home']:,} per home, "
            f"{result['ws_leaks']} from another home) | CPU per 1,000 readings {result['ingest_cpu_ms']:.0f} ms alone, "
            f"{result['ws_cpu_ms']:.0f} ms with the clients")


if __name__ == "__main__":
    main()
