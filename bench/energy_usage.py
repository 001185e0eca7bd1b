"""The energy API and page over a year of hourly history: how fast the year view answers and renders.

    .venv/bin/python bench/energy_usage.py                      # 3 meters, 365 days, 20 queries
    .venv/bin/python bench/energy_usage.py --meters 20 --days 365 --runs 50 --no-browser

Starts a real hub (SQLite recorder, a TOU tariff, the web UI) in this process, backfills an hour
reading per meter for `days` days through the public ingestion path (the `recorder.backfill`
service), lets the recorder's downsampler build its hour tier, then times:

- `energy/report` for the year view over the WebSocket API (what the page asks), and for the
  month and day views; the issue's bar: the year view under 100 ms;
- the Energy page in Chromium (`/energy?view=year`, logged in): from navigation until the year's
  12 bars are drawn; the issue's bar: under 1 s.

Prints p50 and p99 (ms) of each. The machine is shared and noisy: compare figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

HOUR = 3600.0
DEVICES = [("kitchen", "Kitchen", 0.45), ("heat_pump", "Heat pump", 1.6), ("workshop", "Workshop", 0.3)]

METERS = """
from hub import hookimpl
from hub.core.entity import SensorEntity


class Meter(SensorEntity):
    def __init__(self, key, name):
        self.name = f"{name} energy"
        self.unique_id = f"bench_{key}_energy"
        self.native_value = None
        self.unit_of_measurement = "kWh"
        self.device_class = "energy"
        self.state_class = "total_increasing"
        self.device_info = {"identifiers": [["bench", key]], "name": name}


@hookimpl
async def setup_integration(hub, config):
    for key, name in DEVICES:
        await hub.entities.add(Meter(key, name), "benchmeters")
"""


def write_config(folder: Path, meters: list[tuple[str, str, float]]) -> Path:
    folder.mkdir(parents=True)
    (folder / "configuration.yaml").write_text(textwrap.dedent("""\
        homeassistant:
          name: Bench home
          time_zone: Europe/Berlin
          currency: EUR
        logger:
          default: warning
        frontend:
        recorder:
          commit_interval: 0.05
        benchmeters:
        energy:
          tariffs:
            grid:
              price: 0.22
              schedule:
                - {days: [mon, tue, wed, thu, fri], from: "07:30", to: "22:00", price: 0.34}
        """))
    plugin = folder / "custom_integrations" / "benchmeters"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text(f"DEVICES = {[(key, name) for key, name, _ in meters]!r}\n" + METERS)
    (plugin / "manifest.json").write_text('{"domain": "benchmeters", "name": "Bench meters", "version": "1.0"}')
    return folder


def readings(mean_kw: float, start: float, hours: int, seed: int) -> list[tuple[float, float]]:
    """A counter read a second before every hour ends: a daily and a yearly rhythm around `mean_kw`."""
    total, points = 1000.0 * (seed + 1), [(start - 1, 1000.0 * (seed + 1))]
    for h in range(hours):
        t = start + h * HOUR
        day = 1 + 0.6 * math.sin(2 * math.pi * ((t / HOUR) % 24 - 7) / 24)
        year = 1 + 0.4 * math.cos(2 * math.pi * (t / 86400 % 365) / 365)
        total += mean_kw * day * year * (1 + 0.1 * math.sin(h * 0.7 + seed))
        points.append((t + HOUR - 1, round(total, 4)))
    return points


def figures(times: list[float]) -> str:
    times = sorted(times)
    p99 = times[max(0, math.ceil(len(times) * 0.99) - 1)]
    return f"p50 {statistics.median(times):7.1f} ms   p99 {p99:7.1f} ms   (n={len(times)})"


async def time_api(url: str, token: str, runs: int) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{url}/api/websocket", max_msg_size=0)
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        ids = iter(range(1, 10**6))

        async def ask(view: str) -> tuple[float, dict[str, Any]]:
            began = time.perf_counter()
            await ws.send_json({"id": next(ids), "type": "energy/report", "view": view})
            answer = await ws.receive_json()
            elapsed = (time.perf_counter() - began) * 1000
            if not answer.get("success"):
                raise RuntimeError(f"energy/report failed: {answer}")
            return elapsed, answer["result"]

        first, year = await ask("year")
        print(f"year view: {len(year['devices'])} devices, {len(year['bars'])} bars, {year['totals']['kwh']:,.0f} kWh, "
              f"{year['source']['hour_rows']:,} hour rows, {year['source']['raw_points']:,} raw points; first answer {first:.1f} ms")
        for view in ("year", "month", "day"):
            times = [(await ask(view))[0] for _ in range(runs)]
            print(f"energy/report {view:<5} (WebSocket)  {figures(times)}")
        await ws.close()


async def time_page(url: str, token: str, runs: int) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        print("page: playwright is not installed (pip install -e '.[test]')")
        return
    if not Path(chromium).exists():
        print("page: chromium is not installed (apt-get install chromium)")
        return
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
        await page.goto(url + "/")
        await page.get_by_role("button", name="Use a long-lived access token instead").click()
        await page.get_by_label("Long-lived access token").fill(token)
        await page.get_by_role("button", name="Log in", exact=True).click()
        await page.get_by_role("navigation", name="Main").wait_for()
        bars = "document.querySelectorAll('[data-testid=energy-chart] svg g.energy-bar').length === 12"
        times = []
        for _ in range(runs):
            await page.goto("about:blank")
            began = time.perf_counter()
            await page.goto(url + "/energy?view=year")
            await page.wait_for_function(bars, polling="raf", timeout=30_000)
            times.append((time.perf_counter() - began) * 1000)
        print(f"Energy page, year view (Chromium: load, log in from storage, ask, draw 12 bars)  {figures(times)}")
        await browser.close()


async def main(meters: int, days: int, runs: int, browser: bool) -> None:
    from hub import bootstrap

    logging.basicConfig(level=logging.WARNING)
    chosen = [(f"{key}_{i}" if i >= len(DEVICES) else key, name if i < len(DEVICES) else f"{name} {i}", kw)
              for i, (key, name, kw) in ((i, DEVICES[i % len(DEVICES)]) for i in range(meters))]
    with tempfile.TemporaryDirectory() as work:
        config = write_config(Path(work) / "config", chosen)
        runtime = await bootstrap.start(config, Path(work) / "data", port=0)
        hub = runtime.hub
        try:
            end = time.time() // HOUR * HOUR
            start = end - days * 24 * HOUR
            began = time.perf_counter()
            written = 0
            for seed, (key, _name, kw) in enumerate(chosen):
                response = await hub.services.call(
                    "recorder", "backfill",
                    {"entity_id": f"sensor.{key}_energy", "points": readings(kw, start, days * 24, seed)},
                    return_response=True)
                written += response["points"]
            await hub.services.call("recorder", "purge", {})  # the downsampler builds the hour tier now
            print(f"{meters} meters x {days} days: {written:,} readings backfilled (recorder.backfill) and downsampled "
                  f"in {time.perf_counter() - began:.1f} s")
            user = await hub.auth.add_user("bench", "bench password 1", "owner")
            token = await hub.auth.create_long_lived_token(user.id, "bench")
            await time_api(runtime.url, token, runs)
            if browser:
                await time_page(runtime.url, token, max(3, runs // 4))
        finally:
            await bootstrap.stop(runtime)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true", help="time the API only")
    args = parser.parse_args()
    asyncio.run(main(args.meters, args.days, args.runs, not args.no_browser))
