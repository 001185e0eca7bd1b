"""What our first users bought the hardware for, end to end on a real Mosquitto and a real SMTP server.

A simulated PZEM node (the firmware under CPython) reports power; an automation in YAML sees it
above 100 W for 10 s, waits a 2 s grace period, switches the node's relay off, waits for the
node to confirm, and emails. Time for the automation (`for:`, `delay:`) runs on the hub's
manual clock; the node, the broker and the mail server run in real time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import textwrap
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

NOTIFY_MISSING = importlib.util.find_spec("integrations.notify") is None
pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(NOTIFY_MISSING, reason="integrations/notify (the SMTP target) is not installed yet"),
]

AUTOMATION = """\
- alias: Switch off a runaway load
  triggers:
    - trigger: numeric_state
      entity_id: sensor.{slug}_power
      above: 100
      for: {{seconds: 10}}
  actions:
    - delay: {{seconds: 2}}
    - action: switch.turn_off
      target: {{entity_id: switch.{slug}_relay1}}
    - wait_template: "{{{{ is_state('switch.{slug}_relay1', 'off') }}}}"
      timeout: {{seconds: 60}}
      continue_on_timeout: false
    - action: notify.email_me
      data:
        title: Relay switched off
        message: "{{{{ trigger.to_state.name }}}} was {{{{ trigger.to_state.state }}}} W; the relay is {{{{ states('switch.{slug}_relay1') }}}}"
"""


class Mailbox:
    """An aiosmtpd handler that records each message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


async def until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Wait for condition() with a deadline, checking every 20 ms."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class World:
    """The hub, its manual clock, the node and the mailbox."""

    def __init__(self, hub: Any, clock: Any, fleet: Any, mailbox: Mailbox) -> None:
        self.hub, self.clock, self.fleet, self.mailbox = hub, clock, fleet, mailbox
        self.node = fleet.nodes[0]
        self.slug = self.node.node_id.replace("-", "_")
        self.power = f"sensor.{self.slug}_power"
        self.relay = f"switch.{self.slug}_relay1"

    def state(self, entity_id: str) -> str | None:
        found = self.hub.states.get(entity_id)
        return None if found is None else found.state

    def watts(self) -> float | None:
        try:
            return float(self.state(self.power) or "")
        except ValueError:
            return None

    async def power_above_threshold(self) -> None:
        """Let the node's load run away (a failing appliance draws ten times its power)."""
        await until(lambda: self.state(self.relay) == "on" and self.watts() is not None, "the node online, relay on")
        assert self.watts() < 100
        await self.clock.set_time(time.time())  # the manual clock catches up with the node's readings
        self.fleet.fault(self.node.node_id, "anomaly", factor=10.0)
        await until(lambda: (self.watts() or 0) > 100, "power above 100 W")
        # Ten seconds after the crossing (which was a moment ago, in real time): the `for:`
        # holds, the automation runs and its 2 s grace begins.
        await self.clock.set_time(time.time() + 10.1)
        await until(lambda: self.hub.states.get("automation.switch_off_a_runaway_load").attributes["current"] == 1, "the automation running")


@pytest.fixture
async def world(tmp_path: Path, mosquitto_server: Any) -> AsyncIterator[World]:
    from aiosmtpd.smtp import SMTP

    from firmware.sim.fleet import Fleet
    from hub import bootstrap
    from hub.core.clock import ManualClock
    from integrations.relay import manager_of

    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    mailbox = Mailbox()
    smtp = await loop.create_server(lambda: SMTP(mailbox, hostname="mail.test"), "127.0.0.1", 0)
    smtp_port = smtp.sockets[0].getsockname()[1]
    prefix = f"ha{uuid.uuid4().hex[:8]}"
    fleet = Fleet(mosquitto_server.url, 1, tmp_path / "nodes", interval=0.1, prefix=f"n{uuid.uuid4().hex[:6]}", discovery_prefix=prefix)
    slug = fleet.nodes[0].node_id.replace("-", "_")
    # A steady 40 W: the kitchen profile follows the time of day (fridge cycles, kettle
    # bursts) and would cross 100 W by itself at some hours.
    from firmware.sim.profiles import Load

    fleet.nodes[0].board.meter.loads = [Load("steady", lambda t: 40.0, 0.9)]
    config = tmp_path / "config"
    config.mkdir()
    (config / "automations.yaml").write_text(AUTOMATION.format(slug=slug))
    (config / "configuration.yaml").write_text(textwrap.dedent(f"""\
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: {prefix}
        relay:
          timeout: 5
          queue_ttl: 120
        notify:
          - name: email_me
            platform: smtp
            server: 127.0.0.1
            port: {smtp_port}
            encryption: none
            sender: hub@home.test
            recipient: [owner@home.test]
            retries: 0
        automation: !include automations.yaml
        """))
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    hub = runtime.hub
    clock = ManualClock(time.time())
    hub.clock = clock
    manager_of(hub).clock = clock
    await hub.services.call("automation", "reload")  # the automation's timers now run on the manual clock
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop, 0.02), daemon=True)
    thread.start()
    try:
        yield World(hub, clock, fleet, mailbox)
    finally:
        stop.set()
        await loop.run_in_executor(None, thread.join, 10)
        fleet.close()
        await bootstrap.stop(runtime)
        smtp.close()
        await smtp.wait_closed()
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


async def rows(hub: Any) -> list[Any]:
    from sqlalchemy import select

    from integrations.relay import manager_of
    from integrations.relay.models import RelayCommandRow

    await manager_of(hub).store.flush()
    async with hub.db() as session:
        return list((await session.execute(select(RelayCommandRow).order_by(RelayCommandRow.created_at))).scalars())


async def test_high_power_switches_the_relay_off_and_emails(world: World) -> None:
    await world.power_above_threshold()
    await world.clock.advance(2)  # grace period over: switch.turn_off goes to the node
    await until(lambda: world.state(world.relay) == "off", "the node's confirmation")
    assert world.node.board.pins[5] == 0  # the GPIO really changed
    await until(lambda: world.mailbox.messages, "the email")
    [mail] = world.mailbox.messages
    text = mail.content.decode()
    assert mail.rcpt_tos == ["owner@home.test"] and "Relay switched off" in text
    assert "the relay is off" in text
    await until(lambda: world.watts() == 0, "the load switched off")
    [command] = await rows(world.hub)
    assert (command.entity_id, command.command, command.status) == (world.relay, "off", "confirmed")
    assert command.context_id is not None and command.confirmed_at >= command.sent_at


async def test_an_offline_node_gets_the_command_when_it_returns(world: World) -> None:
    await world.power_above_threshold()
    world.fleet.fault(world.node.node_id, "offline")  # the node drops off during the grace period
    await until(lambda: world.state(world.relay) == "unavailable", "the node's last will")
    await world.clock.advance(2)
    await until(lambda: manager_queue(world), "the queued command")
    [queued] = await rows(world.hub)
    assert (queued.command, queued.status, queued.sent_at) == ("off", "queued", None)
    assert not world.mailbox.messages

    world.fleet.fault(world.node.node_id, "online")
    await until(lambda: world.state(world.relay) == "off", "the queued command delivered and confirmed", timeout=15)
    assert world.node.board.pins[5] == 0
    await until(lambda: world.mailbox.messages, "the email")
    assert "the relay is off" in world.mailbox.messages[0].content.decode()
    [delivered] = await rows(world.hub)
    assert delivered.id == queued.id and delivered.status == "confirmed" and delivered.sent_at is not None


def manager_queue(world: World) -> list[Any]:
    from integrations.relay import manager_of

    controller = manager_of(world.hub).get(world.relay)
    return controller.queue if controller is not None else []
