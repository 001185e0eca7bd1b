"""Build, sign and send OTA images (runs on a PC under CPython).

    python -m firmware.ota_tool bundle image.bin firmware/*.py          # files keep their paths
    python -m firmware.ota_tool sign --key-file node.key image.bin      # prints the HMAC
    python -m firmware.ota_tool push --broker mqtt://hub.lan:1883 --node kitchen-1 --key-file node.key image.bin
    python -m firmware.ota_tool derive --master-file fleet.key kitchen-1  # per-device key from a fleet secret
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

from firmware.hmac_sha256 import hmac_sha256
from firmware.ota import pack, sign

CHUNK = 1024


def _key(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())


def push(broker: str, node_id: str, key: bytes, image: bytes, timeout: float = 30.0,
         topic_root: str = "") -> dict[str, object]:
    """Send a signed image to a node over MQTT (its topics under topic_root); return its final OTA status."""
    import threading

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from firmware.sim.fleet import parse_broker

    host, port = parse_broker(broker)
    from firmware import topics

    base = topics.base(node_id, topic_root) + "/ota"
    results: list[dict[str, object]] = []
    done = threading.Event()

    def on_message(client: object, userdata: object, message: paho.MQTTMessage) -> None:
        status = json.loads(message.payload)
        results.append(status)
        if status.get("state") in ("installed", "refused"):
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect(host, port)
    client.loop_start()
    try:
        client.subscribe(f"{base}/status", qos=1)
        client.publish(f"{base}/begin", json.dumps({"size": len(image), "hmac": sign(key, image)}), qos=1).wait_for_publish(10)
        for offset in range(0, len(image), CHUNK):
            client.publish(f"{base}/chunk", struct.pack(">I", offset) + image[offset:offset + CHUNK], qos=1).wait_for_publish(10)
        if not done.wait(timeout):
            return {"state": "timeout", "seen": results}
        return results[-1]
    finally:
        client.loop_stop()
        client.disconnect()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool."""
    parser = argparse.ArgumentParser(prog="python -m firmware.ota_tool", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    bundle = commands.add_parser("bundle", help="pack files into an image")
    bundle.add_argument("output", type=Path)
    bundle.add_argument("files", nargs="+", type=Path)
    signing = commands.add_parser("sign", help="print the image's HMAC-SHA256")
    signing.add_argument("--key-file", type=Path, required=True)
    signing.add_argument("image", type=Path)
    sending = commands.add_parser("push", help="send a signed image to a node over MQTT")
    sending.add_argument("--broker", required=True)
    sending.add_argument("--node", required=True)
    sending.add_argument("--topic-root", default="", help='the node\'s topic_root in config.json (default "")')
    sending.add_argument("--key-file", type=Path, required=True)
    sending.add_argument("image", type=Path)
    derive = commands.add_parser("derive", help="print a node's key derived from a fleet secret")
    derive.add_argument("--master-file", type=Path, required=True)
    derive.add_argument("node")
    args = parser.parse_args(argv)
    if args.command == "bundle":
        args.output.write_bytes(pack([(path.as_posix(), path.read_bytes()) for path in args.files]))
        print(f"{args.output}: {args.output.stat().st_size} bytes, {len(args.files)} files")
    elif args.command == "sign":
        print(sign(_key(args.key_file), args.image.read_bytes()))
    elif args.command == "derive":
        print(hmac_sha256(_key(args.master_file), args.node.encode()).hex())
    else:
        status = push(args.broker, args.node, _key(args.key_file), args.image.read_bytes(),
                      topic_root=args.topic_root)
        print(json.dumps(status))
        return 0 if status.get("state") == "installed" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
