"""Structured logs: JSON lines, levels per integration, and the admin log view over WebSocket."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hub.ops.logs import configure, logger_names
from tests.api.conftest import Api


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """A text handler on the root logger, as `hub run` sets up; levels restored afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", "integrations.mqtt", "homeassistant.components.mqtt", "aiohttp.access")}
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_json_lines_carry_level_logger_message_and_extras(root_stream: io.StringIO) -> None:
    configure({"default": "INFO", "format": "json"})
    try:
        logging.getLogger("hub.test").warning("Relay %s did not answer", "kitchen", extra={"device_id": "abc"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("hub.test").exception("It broke")
    finally:
        configure({"default": "INFO", "format": "text"})
    logging.getLogger("hub.test").warning("plain again")
    lines = root_stream.getvalue().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    assert first["level"] == "WARNING" and first["logger"] == "hub.test"
    assert first["message"] == "Relay kitchen did not answer" and first["device_id"] == "abc"
    assert first["time"].endswith("+00:00")
    assert "ValueError: boom" in second["exception"]
    assert lines[-1] == "WARNING hub.test: plain again"


def test_levels_per_integration(root_stream: io.StringIO) -> None:
    modules = {"mqtt": "integrations.mqtt"}
    assert logger_names("mqtt", modules) == ["integrations.mqtt", "mqtt"]
    assert logger_names("homeassistant.components.mqtt", modules) == ["integrations.mqtt", "homeassistant.components.mqtt"]
    assert logger_names("aiohttp.access", modules) == ["aiohttp.access"]
    configure({"default": "WARNING", "logs": {"homeassistant.components.mqtt": "DEBUG", "aiohttp.access": "ERROR"}}, modules)
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("integrations.mqtt").level == logging.DEBUG
    assert logging.getLogger("integrations.mqtt.discovery").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("aiohttp.access").level == logging.ERROR


async def test_admins_list_and_follow_the_log(api: Api) -> None:
    logging.getLogger("integrations.testdevices").warning("Meter %d is slow", 3)
    client = await api.ws("admin")
    entries = await client.command("system_log/list", level="warning")
    mine = [e for e in entries if e["name"] == "integrations.testdevices"]
    assert mine[-1]["message"] == ["Meter 3 is slow"] and mine[-1]["level"] == "WARNING"
    assert all(e["levelno"] >= logging.WARNING for e in entries)
    assert len(await client.command("system_log/list", limit=1)) == 1

    sub = await client.send_command("system_log/subscribe", level="error")
    assert (await client.result(sub))["success"]
    logging.getLogger("hub.test").warning("not for this subscriber")
    logging.getLogger("hub.test").error("Relay %s failed", "porch")
    event = await client.event(sub)
    assert event["message"] == ["Relay porch failed"] and event["level"] == "ERROR"
    await client.command("unsubscribe_events", subscription=sub)

    user = await api.ws("user")
    assert (await user.error("system_log/list"))["code"] == "unauthorized"
