"""The History page charts a week of 1 Hz-like history from the hub's decimated history/chart answer."""

from __future__ import annotations

import json
import time

import pytest

from hub.recorder import get_recorder
from tests.frontend.conftest import login_with_token, screenshots

pytestmark = pytest.mark.timeout(180)

POWER = "sensor.relay_node_power"


async def test_a_week_is_drawn_from_buckets_with_a_min_max_band(start_site, page):
    site = await start_site("recorder:\n  commit_interval: 0.05\n")
    site.entity(POWER).set(120)
    recorder = get_recorder(site.hub)
    now = time.time()
    # A week every 10 s (60,480 points): a daily shape with a spike every 97th reading.
    points = [(now - 7 * 86400 + i * 10, 300 + 200 * ((i // 360) % 24 > 17) + (900 if i % 97 == 0 else 0))
              for i in range(7 * 8640)]
    await recorder.backfill(POWER, points)
    await recorder.flush()
    answers = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: answers.append(frame)))
    await login_with_token(page, site, "/history")
    await page.get_by_role("checkbox", name="Relay node Power").check()
    await page.get_by_label("Range").select_option("7d")
    assert await page.get_by_label("Aggregation").input_value() == "auto"
    await page.get_by_role("button", name="Show chart").click()
    chart = page.get_by_test_id("chart")
    await chart.locator("canvas").wait_for()
    await chart.get_by_text("Relay node Power max").wait_for()
    decimated = [json.loads(a)["result"] for a in answers if isinstance(a, str) and '"bucket"' in a]
    assert decimated, "the page did not ask for history/chart"
    series = decimated[-1]["series"][POWER]
    # The browser got a few hundred buckets, not 60,480 points; each spike shows in the band's max.
    assert 100 <= len(series["t"]) <= 700 and max(series["max"]) == 1400
    assert min(series["min"]) == 120  # the live reading, after the backfilled week
    await screenshots(page, "history-chart", {"phone": (390, 844), "desktop": (1280, 900)})
