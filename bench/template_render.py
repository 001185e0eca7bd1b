"""Template renders on the MQTT hot path: microseconds per render of typical value templates.

    .venv/bin/python bench/template_render.py                 # this checkout
    .venv/bin/python bench/template_render.py --rounds 5 --n 20000

Renders each template as an MQTT sensor does (render_with_possible_json_value with a JSON
payload) N times per round and prints the best round in microseconds per render. To compare
two checkouts on a noisy machine, run this script from each in turn, several times, and
compare ratios within one sitting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = {
    "value_json.ts": ("{{ value_json.ts }}", b'{"ts": 1700000000.25}'),
    "float math": ("{{ (value_json.power | float(0) * 1000) | round(1) }}", b'{"power": 1.2345}'),
    "tasmota nested": ("{{ value_json.ENERGY.Power }}", b'{"Time":"2024-01-01T00:00:00","ENERGY":{"Power":123,"Voltage":230}}'),
    "if/else": ("{% if value == 'ON' %}on{% else %}off{% endif %}", b"ON"),
    "loop of 10": ("{% for x in value_json.v %}{{ x }},{% endfor %}", b'{"v": [1,2,3,4,5,6,7,8,9,10]}'),
    "states()": ("{{ states('sensor.a') | float(0) + value | float(0) }}", b"12.5"),
}


def bench(n: int, rounds: int) -> dict[str, float]:
    from hub.core.hub import Hub
    from hub.templating import Template

    hub = Hub()
    hub.states.set("sensor.a", "3.5")
    results = {}
    for name, (source, payload) in CASES.items():
        template = Template(source, hub)
        template.render_with_possible_json_value(payload)  # compile outside the timing
        best = float("inf")
        for _ in range(rounds):
            began = time.perf_counter()
            for _ in range(n):
                template.render_with_possible_json_value(payload)
            best = min(best, time.perf_counter() - began)
        results[name] = best / n * 1e6
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="renders per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{ROOT.name}: best of {args.rounds} rounds of {args.n} renders, microseconds per render")
    for name, micros in bench(args.n, args.rounds).items():
        print(f"  {name:<16} {micros:7.2f} us")


if __name__ == "__main__":
    main()
