"""A long fuzz campaign against a real hub: MQTT discovery and states, WebSocket frames, HTTP requests.

    .venv/bin/python bench/fuzz.py                          # 20,000 cases per surface, seed 1
    .venv/bin/python bench/fuzz.py --cases 100000 --seed 7  # longer, another seed
    .venv/bin/python bench/fuzz.py --surface http --cases 5000

The same generators and checks as the CI suite (tests/security/test_fuzz.py, 2,000 cases
with one fixed seed): a hub with MQTT (its own Mosquitto), http_ingest and test devices; per
surface it prints the cases sent, the time, the slowest get_states of a watching client and
every finding (a 5xx, a WebSocket unknown_error, a traceback in the log, get_states over
1 s). A finding prints the seed: rerun with it to reproduce. Exit code 1 when anything was
found.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SURFACES = ("mqtt", "ws", "http")


async def campaign(cases: int, seed: int, surfaces: list[str]) -> int:
    import aiomqtt

    from bench.mqtt_ingest import start_mosquitto
    from hub import bootstrap
    from integrations.mqtt import runtime_of
    from tests.api.conftest import DEVICES
    from tests.hubs import write_config
    from tests.security.fuzzer import Findings, fuzz_http, fuzz_mqtt, fuzz_ws, watching

    found = 0
    with tempfile.TemporaryDirectory(prefix="hub-fuzz-") as tmp:
        workdir = Path(tmp)
        broker, port = start_mosquitto(workdir)
        try:
            prefix = "fuzz"
            config = write_config(workdir / "config", textwrap.dedent(f"""\
                logger:
                  default: warning
                testdevices:
                http_ingest:
                mqtt:
                  broker: mqtt://127.0.0.1:{port}
                  discovery_prefix: {prefix}
                """), {"testdevices": DEVICES})
            runtime = await bootstrap.start(config, workdir / "data", port=0)
            try:
                auth = runtime.hub.auth
                tokens = {}
                for role in ("owner", "user", "read-only"):
                    user = await auth.add_user(role, "fuzz password 123", role)
                    tokens[role] = await auth.create_long_lived_token(user.id, role)
                mqtt = runtime_of(runtime.hub)
                assert mqtt is not None and mqtt.discovery is not None
                for surface in surfaces:
                    findings = Findings()
                    began = time.perf_counter()
                    async with watching(runtime.url, tokens["owner"], findings):
                        if surface == "mqtt":
                            client = aiomqtt.Client("127.0.0.1", port)
                            await client.__aenter__()

                            async def publish(topic: str, payload: bytes) -> None:
                                nonlocal client
                                try:
                                    await client.publish(topic, payload, qos=0)
                                except aiomqtt.MqttError:  # the broker dropped us for a bad topic
                                    client = aiomqtt.Client("127.0.0.1", port)
                                    await client.__aenter__()

                            try:
                                await fuzz_mqtt(publish, prefix, seed, cases, findings, mqtt.discovery.wait_idle)
                            finally:
                                await client.__aexit__(None, None, None)
                        elif surface == "ws":
                            await fuzz_ws(runtime.url, tokens["owner"], seed, cases // 2, findings)
                            await fuzz_ws(runtime.url, tokens["user"], seed + 1, cases - cases // 2, findings)
                        else:
                            await fuzz_http(runtime.url, [tokens["owner"], tokens["user"], tokens["read-only"], None],
                                            seed, cases, findings)
                    took = time.perf_counter() - began
                    print(f"{surface:<5} {findings.cases:>7} cases in {took:6.1f} s ({findings.cases / took:6.0f}/s), "
                          f"slowest get_states {findings.slowest_get_states * 1000:6.1f} ms, "
                          f"{len(findings.failures)} findings (seed {seed})")
                    for failure in findings.failures:
                        print(f"      {failure}")
                    found += len(findings.failures)
            finally:
                await bootstrap.stop(runtime)
        finally:
            broker.terminate()
            broker.wait(10)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000, help="cases per surface")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--surface", choices=SURFACES, nargs="+", default=list(SURFACES))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])  # findings are printed
    found = asyncio.run(campaign(args.cases, args.seed, args.surface))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
