"""Validation of discovery configs: the fast path against voluptuous alone, on the same configs.

    .venv/bin/python bench/discovery_validation.py              # 5,000 PZEM sensor configs, 5 rounds
    .venv/bin/python bench/discovery_validation.py --rounds 9

The configs of bench/startup.py's cold start (500 nodes x 10 sensors), parsed and expanded as
discovery does, then validated by `SCHEMAS["sensor"]` (integrations/mqtt/fast_schema.py) and
by its voluptuous schema alone (`.slow`), taking turns; prints the CPU seconds of each round
and the median ratio. Also what parsing, expanding and validating cost together, and what
receiving the validated configs from another process would cost (pickle), the figure that
decides whether that work is worth a second core.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.startup import discovery_messages  # noqa: E402
from integrations.mqtt.abbreviations import expand_base_topic, expand_component  # noqa: E402
from integrations.mqtt.schemas import SCHEMAS  # noqa: E402


def main(args: argparse.Namespace) -> None:
    payloads = [payload for topic, payload in discovery_messages(args.entities) if topic.endswith("/config")]
    configs = [expand_base_topic(expand_component(orjson.loads(p))) for p in payloads]
    schema = SCHEMAS["sensor"]
    figures: dict[str, list[float]] = {"voluptuous": [], "fast path": []}
    print(f"{len(configs):,} sensor configs; CPU seconds per round")
    for round_ in range(1, args.rounds + 1):
        for name, validate in (("voluptuous", schema.slow), ("fast path", schema)):
            began = time.process_time()
            for config in configs:
                validate(config)
            figures[name].append(time.process_time() - began)
        print(f"round {round_}: voluptuous {figures['voluptuous'][-1]:.3f}  fast path {figures['fast path'][-1]:.3f}")
    slow, fast = statistics.median(figures["voluptuous"]), statistics.median(figures["fast path"])
    print(f"median: voluptuous {slow:.3f} s, fast path {fast:.3f} s ({slow / fast:.1f}x)")
    began = time.process_time()
    validated = [schema(expand_base_topic(expand_component(orjson.loads(p)))) for p in payloads]
    work = time.process_time() - began
    blob = pickle.dumps(validated, protocol=5)
    began = time.process_time()
    pickle.loads(blob)
    receive = time.process_time() - began
    print(f"parse + expand + validate: {work:.3f} CPU s; receiving them from another process (pickle.loads): {receive:.3f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args())
