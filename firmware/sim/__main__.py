"""`python -m firmware.sim`: run simulated PZEM + relay nodes against an MQTT broker.

Examples:
    python -m firmware.sim --nodes 50 --broker mqtt://127.0.0.1:1883
    python -m firmware.sim --nodes 5 --fault offline:sim-002:60 --fault anomaly:sim-003
    python -m firmware.sim --nodes 50 --rate 20000 --seconds 30     # ingest load test

Faults at run time: publish {"fault": "offline", "seconds": 30} to sim/<node_id|*>/fault.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from firmware.config import ConfigError
from firmware.sim.fleet import FAULTS, Fleet


def _topic_root(value: str) -> str:
    from firmware.config import ConfigError, check_topic_root

    try:
        check_topic_root(value)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the simulator's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m firmware.sim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5, help="number of nodes (default 5)")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="MQTT broker URL (default mqtt://127.0.0.1:1883)")
    parser.add_argument("--interval", type=float, default=10.0, help="telemetry interval in seconds (default 10)")
    parser.add_argument("--relays", type=int, default=1, choices=range(0, 5), help="relays per node (default 1)")
    parser.add_argument("--prefix", default="sim", help="node id prefix (default sim: sim-001, sim-002, ...)")
    parser.add_argument("--topic-root", default="", type=_topic_root,
                        help='what the nodes\' topics hang under, as the hub\'s mqtt: topic_root (default "": devices/<id>/...)')
    parser.add_argument("--data", type=Path, default=None, help="where the nodes keep their flash files (default: a temporary directory)")
    parser.add_argument("--ota-master-key", default=None, help="hex fleet secret; node keys are HMAC(secret, node_id)")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="KIND:NODE[:SECONDS]",
        help=f"inject a fault at start ({', '.join(FAULTS)}); NODE may be *",
    )
    parser.add_argument("--rate", type=float, default=None, help="high-rate mode: total messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="high-rate mode: how long to run (default 30)")
    parser.add_argument("--config", type=Path, action="append", default=[], metavar="CONFIG_JSON",
                        help="run a node with this config.json (from the hub's Add device page) as it is; repeatable")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every node's connection events")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until Ctrl-C (or for --seconds in high-rate mode)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.rate:
        return _rate(args, stop)
    with tempfile.TemporaryDirectory(prefix="firmware-sim-") as tmp:
        fleet = Fleet(
            args.broker,
            0 if args.config else args.nodes,
            args.data or Path(tmp),
            interval=args.interval,
            prefix=args.prefix,
            ota_master=bytes.fromhex(args.ota_master_key) if args.ota_master_key else None,
            relays=args.relays,
            topic_root=args.topic_root,
        )
        for path in args.config:
            try:
                fleet.add(json.loads(path.read_text()))
            except (OSError, ValueError, ConfigError) as err:
                print(f"{path}: {err}", file=sys.stderr)
                return 2
        for spec in args.fault:
            kind, _, rest = spec.partition(":")
            node_id, _, seconds = rest.partition(":")
            fleet.fault(node_id or "*", kind, seconds=float(seconds) if seconds else None)
        if args.config:
            # Provisioned nodes talk to a broker with accounts: no anonymous fault channel there.
            print(f"{len(fleet.nodes)} nodes from config.json (Ctrl-C to stop)", flush=True)
        else:
            fleet.listen_for_faults()
            print(f"{args.nodes} nodes on {args.broker} (Ctrl-C to stop); faults: sim/<node_id>/fault", flush=True)
        try:
            fleet.run(stop)
        finally:
            fleet.close()
    return 0


def _rate(args: argparse.Namespace, stop: threading.Event) -> int:
    from firmware.sim.rate import RateReport, run

    def show(r: RateReport) -> None:
        line = f"t={r.second:3d}s sent {r.sent:6d}/{r.target} msg/s  build {r.build_us:5.1f} µs/msg  send {r.send_us:5.1f} µs/msg"
        print(line + (f"  LIMIT: {r.limit}" if r.limit else ""), flush=True)

    reports = run(args.broker, args.nodes, args.rate, args.seconds, prefix=args.prefix, report=show, stop=stop,
                  topic_root=args.topic_root)
    steady = reports[1:] or reports
    if steady:
        mean = sum(r.sent for r in steady) / len(steady)
        print(f"mean {mean:.0f} msg/s over {len(steady)} s (target {args.rate:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
