"""How fast the node simulator can publish telemetry (the MQTT ingest benchmark's load generator).

    .venv/bin/python bench/firmware_sim.py                    # throwaway Mosquitto on a free port
    .venv/bin/python bench/firmware_sim.py --broker mqtt://127.0.0.1:1883 --rate 20000 --nodes 50

Prints per-second figures of the publisher (msgs/s, µs per message to build, µs to send), what
held it back when it fell short, and how many messages a subscriber received.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from firmware.sim.rate import RateReport, run  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _subscribe(host: str, port: int, counter: Any, ready: Any) -> None:
    """Count messages in a process of its own, so it does not take the publisher's GIL."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-subscriber")

    def on_message(*_: Any) -> None:
        counter.value += 1

    client.on_message = on_message
    client.on_subscribe = lambda *_: ready.set()
    client.connect(host, port)
    client.subscribe("devices/+/state")
    client.loop_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", default=None)
    parser.add_argument("--rate", type=float, default=20000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    broker_proc = None
    tmp = tempfile.mkdtemp(prefix="bench-mqtt-")
    broker = args.broker
    if broker is None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        port = _free_port()
        conf = Path(tmp) / "m.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\n")
        broker_proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        broker = f"mqtt://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
    host, port_text = broker.removeprefix("mqtt://").split(":")
    counter = multiprocessing.Value("q", 0, lock=False)
    ready = multiprocessing.Event()
    sub = multiprocessing.Process(target=_subscribe, args=(host, int(port_text), counter, ready), daemon=True)
    sub.start()
    ready.wait(10)
    received = counter
    try:
        seen = [0]

        def show(r: RateReport) -> None:
            got = received.value - seen[0]
            seen[0] = received.value
            print(f"t={r.second:3d}s published {r.sent:6d}/s (target {r.target})  build {r.build_us:5.1f} µs/msg  "
                  f"send {r.send_us:4.1f} µs/msg  cpu {r.cpu:4.0%}  subscriber got {got:6d}/s" + (f"  LIMIT: {r.limit}" if r.limit else ""), flush=True)

        reports = run(broker, args.nodes, args.rate, args.seconds, prefix="bench", report=show)
        steady = reports[1:] or reports
        mean = sum(r.sent for r in steady) / max(len(steady), 1)
        print(f"publisher: mean {mean:.0f} msg/s over {len(steady)} s from one process, {args.nodes} connections")
    finally:
        sub.terminate()
        sub.join(5)
        if broker_proc is not None:
            broker_proc.terminate()
            broker_proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
