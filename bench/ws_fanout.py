"""WebSocket fan-out: N clients subscribed to state_changed while the hub changes states at a fixed rate.

Starts a real hub (bootstrap, aiohttp server) in this process and the clients in a separate
process, so the hub's event loop is measured on its own. Each state carries the time.time()
at which it was set in the attribute `t`; a client's latency is its receive time minus `t`.

    .venv/bin/python bench/ws_fanout.py                 # 50 clients, 1,000 then 5,000 changes/s
    .venv/bin/python bench/ws_fanout.py --clients 10 --rates 1000 --seconds 5

Prints, per rate: delivered messages/s (all clients together), the share of expected messages
that arrived, p50/p99/max latency, the hub process's CPU use and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import orjson  # noqa: E402

ENTITIES = 200  # distinct sensors the driver cycles through
TICK = 0.01  # the driver sets rate*TICK states every TICK seconds


# ---------------------------------------------------------------- client process

async def run_client(session: aiohttp.ClientSession, url: str, token: str, stats: dict[str, Any],
                     ready: asyncio.Event, counter: list[int]) -> None:
    ws = await session.ws_connect(f"{url}/api/websocket", max_msg_size=0)
    await ws.receive()
    await ws.send_str(json.dumps({"type": "auth", "access_token": token}))
    assert json.loads((await ws.receive()).data)["type"] == "auth_ok"
    await ws.send_str(json.dumps({"id": 1, "type": "supported_features", "features": {"coalesce_messages": 1}}))
    await ws.receive()
    await ws.send_str(json.dumps({"id": 2, "type": "subscribe_events", "event_type": "state_changed"}))
    await ws.receive()
    counter[0] += 1
    if counter[0] == stats["clients"]:
        ready.set()
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        now = time.time()
        data = orjson.loads(msg.data)
        for item in data if isinstance(data, list) else (data,):
            if item.get("type") != "event":
                continue
            stats["received"] += 1
            sent = item["event"]["data"]["new_state"]["attributes"].get("t")
            if sent is not None:
                stats["latencies"].append(now - sent)
    stats["closed"] += 1


async def client_main(url: str, token: str, clients: int) -> None:
    stats: dict[str, Any] = {"clients": clients, "received": 0, "latencies": [], "closed": 0}
    ready = asyncio.Event()
    counter = [0]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(run_client(session, url, token, stats, ready, counter)) for _ in range(clients)]
        await ready.wait()
        print("READY", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        started = time.time()
        cpu_started = time.process_time()
        while line := (await reader.readline()).decode().strip():
            if line == "START":
                stats["received"], stats["latencies"], started = 0, [], time.time()
                cpu_started = time.process_time()
            elif line == "REPORT":
                latencies = stats["latencies"]
                # Every 5th latency is plenty for percentiles and keeps the report small.
                print(json.dumps({"received": stats["received"], "elapsed": time.time() - started,
                                  "sample": latencies[::5], "closed": stats["closed"],
                                  "cpu": (time.process_time() - cpu_started) / (time.time() - started)}),
                      flush=True)
            elif line == "STOP":
                break
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---------------------------------------------------------------- hub process

async def drive(hub: Any, rate: int, seconds: float) -> int:
    """Set `rate` states per second for `seconds`, in ticks, without drifting."""
    loop = asyncio.get_running_loop()
    per_tick = max(1, round(rate * TICK))
    ticks = int(seconds / TICK)
    start = loop.time()
    sequence = 0
    for tick in range(ticks):
        for _ in range(per_tick):
            sequence += 1
            hub.states.set(
                f"sensor.meter_{sequence % ENTITIES}",
                str(sequence),
                {"unit_of_measurement": "W", "device_class": "power", "t": time.time()},
            )
        delay = start + (tick + 1) * TICK - loop.time()
        await asyncio.sleep(max(0.0, delay))
    return ticks * per_tick


class _CutOffCounter(logging.Handler):
    """Count the clients the hub disconnected for lagging (its log says why)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Disconnecting WebSocket client"):
            self.count += 1


async def hub_main(args: argparse.Namespace) -> None:
    from hub import bootstrap

    cut_off = _CutOffCounter()
    logging.getLogger("hub.api.websocket").addHandler(cut_off)
    logging.getLogger("hub.api.websocket").propagate = False

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config"
        config.mkdir()
        (config / "configuration.yaml").write_text("homeassistant:\n  name: Bench\nlogger:\n  default: warning\n")
        runtime = await bootstrap.start(config, Path(tmp) / "data", port=0)
        try:
            hub = runtime.hub
            user = await hub.auth.add_user("bench", "bench password", "owner")
            token = await hub.auth.create_long_lived_token(user.id, "bench")
            shares = [args.clients // args.processes + (i < args.clients % args.processes) for i in range(args.processes)]
            clients = [
                await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--client", runtime.url, token, str(share),
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**27,
                )
                for share in shares if share
            ]

            async def tell(line: bytes) -> None:
                for client in clients:
                    client.stdin.write(line)  # type: ignore[union-attr]
                    await client.stdin.drain()  # type: ignore[union-attr]

            for client in clients:
                assert (await asyncio.wait_for(client.stdout.readline(), 60)).strip() == b"READY"  # type: ignore[union-attr]
            print(f"{args.clients} clients in {len(clients)} processes subscribed to state_changed "
                  f"(coalesce_messages on); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
            await drive(hub, 200, 1.0)  # warm up
            for rate in args.rates:
                await tell(b"START\n")
                cpu0, wall0 = time.process_time(), time.perf_counter()
                sent = await drive(hub, rate, args.seconds)
                hub_busy = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
                await asyncio.sleep(1.0)  # let the last messages arrive
                await tell(b"REPORT\n")
                reports = [json.loads(await asyncio.wait_for(c.stdout.readline(), 60)) for c in clients]  # type: ignore[union-attr]
                received = sum(r["received"] for r in reports)
                latencies = sorted(x for r in reports for x in r["sample"])
                def pick(q: float, latencies: list[float] = latencies) -> float:
                    return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

                expected = sent * args.clients
                print(
                    f"{rate:>5} changes/s: delivered {received / args.seconds:>9,.0f} msgs/s "
                    f"({received / expected:6.1%} of {expected:,}), latency p50 {pick(0.5):6.1f} ms, "
                    f"p99 {pick(0.99):7.1f} ms, max {pick(1.0):7.1f} ms; CPU hub {hub_busy:4.0%} "
                    f"clients {sum(r['cpu'] for r in reports):4.0%}; "
                    f"clients cut off by the hub so far {cut_off.count}; "
                    f"load average {os.getloadavg()[0]:.1f}"
                )
            await tell(b"STOP\n")
            for client in clients:
                await asyncio.wait_for(client.wait(), 30)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"hub process peak RSS {rss:.0f} MiB")
        finally:
            await bootstrap.stop(runtime)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        url, token, clients = sys.argv[2], sys.argv[3], int(sys.argv[4])
        asyncio.run(client_main(url, token, clients))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seconds", type=float, default=10.0)
    # Ten clients per process: with 25 per process the Python clients themselves fell behind
    # (p99 416 ms with the hub at 30% CPU), measuring the clients rather than the hub.
    parser.add_argument("--processes", type=int, default=5, help="client processes")
    asyncio.run(hub_main(parser.parse_args()))


if __name__ == "__main__":
    main()
