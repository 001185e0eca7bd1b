"""notify.<name> delivers rendered messages by webhook, ntfy and SMTP, retries, and reports failures."""

from __future__ import annotations

import asyncio
import email
import json
import time
from email.policy import default as default_policy

import pytest
import voluptuous as vol

from hub.core.hub import Hub
from hub.exceptions import ServiceValidationError
from integrations import notify
from tests.integrations.notify.conftest import Mailbox, Receiver, events


async def test_webhook_posts_rendered_message_as_json(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "ops_webhook", "platform": "webhook", "url": f"{receiver.url}/hook",
                                    "headers": {"X-Token": "s3cret"}}])
    hub.states.set("sensor.washer_power", "2150.5")
    await hub.services.call("notify", "ops_webhook", {
        "title": "Washer {{ 'on' if states('sensor.washer_power') | float > 10 else 'off' }}",
        "message": "Power is {{ states('sensor.washer_power') | float | int }} W",
        "data": {"room": "{{ 'utility' }}", "level": 3},
    })
    [request] = await receiver.wait_for(1)
    assert request["path"] == "/hook"
    assert request["headers"]["X-Token"] == "s3cret"
    assert json.loads(request["body"]) == {
        "title": "Washer on", "message": "Power is 2150 W", "data": {"room": "utility", "level": 3},
        "target": [], "suppressed": 0,
    }


async def test_ntfy_push_has_title_priority_and_tags_headers(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "phone", "platform": "ntfy", "url": receiver.url, "topic": "hub-alerts",
                                    "tags": ["house"], "token": "tk_1"}])
    await hub.services.call("notify", "phone", {
        "title": "Überlast", "message": "Relay 1 switched off",
        "data": {"priority": "high", "tags": ["warning", "zap"], "click": "http://hub.local/energy"},
    })
    [request] = await receiver.wait_for(1)
    headers = request["headers"]
    assert request["path"] == "/hub-alerts"
    assert request["body"].decode() == "Relay 1 switched off"
    assert headers["Priority"] == "4"
    assert headers["Tags"] == "warning,zap"
    assert headers["Click"] == "http://hub.local/energy"
    assert headers["Authorization"] == "Bearer tk_1"
    # A non-ASCII title travels RFC 2047-encoded, which ntfy decodes.
    assert str(email.header.make_header(email.header.decode_header(headers["Title"]))) == "Überlast"


async def test_email_arrives_at_the_smtp_server(setup_notify, mailbox: Mailbox) -> None:
    hub: Hub = await setup_notify([{"name": "email_me", "platform": "smtp", "server": mailbox.host,
                                    "port": mailbox.port, "encryption": "none", "sender": "hub@example.com",
                                    "sender_name": "Powerhub", "recipient": ["me@example.com", "you@example.com"]}])
    hub.states.set("sensor.kitchen_energy", "12.5")
    await hub.services.call("notify", "email_me", {
        "title": "Daily report", "message": "Kitchen used {{ states('sensor.kitchen_energy') }} kWh"})
    [envelope] = await mailbox.wait_for(1)
    assert envelope.mail_from == "hub@example.com"
    assert envelope.rcpt_tos == ["me@example.com", "you@example.com"]
    mail = email.message_from_bytes(envelope.content, policy=default_policy)
    assert mail["Subject"] == "Daily report"
    assert mail["From"] == "Powerhub <hub@example.com>"
    assert mail.get_content().strip() == "Kitchen used 12.5 kWh"

    # `target` picks other recipients for one message.
    await hub.services.call("notify", "email_me", {"message": "only you", "target": "boss@example.com"})
    envelopes = await mailbox.wait_for(2)
    assert envelopes[1].rcpt_tos == ["boss@example.com"]


async def test_failed_attempts_are_retried_with_backoff(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "ops", "platform": "webhook", "url": receiver.url,
                                    "retries": 3, "backoff": 30}])
    failed = events(hub, "notify_failed")
    receiver.replies = [500, 503]
    await hub.services.call("notify", "ops", {"message": "disk full"})
    await receiver.wait_for(1)
    clock = hub.clock
    await clock.advance(29)
    assert len(receiver.requests) == 1  # the first backoff is 30 s
    await clock.advance(1)
    await receiver.wait_for(2)
    await clock.advance(60)  # then doubled
    await receiver.wait_for(3)
    await hub.block_till_done()
    assert [json.loads(r["body"])["message"] for r in receiver.requests] == ["disk full"] * 3
    assert failed == []


async def test_delivery_that_keeps_failing_fires_notify_failed(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "ops", "platform": "webhook", "url": receiver.url,
                                    "retries": 2, "backoff": 0}])
    failed = events(hub, "notify_failed")
    receiver.replies = [500, 500, 500]
    await hub.services.call("notify", "ops", {"message": "disk full", "title": "Server"})
    await hub.block_till_done()
    assert len(receiver.requests) == 3
    assert failed == [{"target": "ops", "platform": "webhook", "title": "Server", "message": "disk full",
                       "attempts": 3, "error": f"{receiver.url} answered HTTP 500: broken"}]


async def test_unreachable_smtp_server_fires_notify_failed(setup_notify, mailbox: Mailbox) -> None:
    port = mailbox.port
    hub: Hub = await setup_notify([{"name": "mail", "platform": "smtp", "server": "127.0.0.1", "port": 1,
                                    "encryption": "none", "sender": "a@b.c", "recipient": "d@e.f",
                                    "retries": 0, "timeout": 2}])
    failed = events(hub, "notify_failed")
    await hub.services.call("notify", "mail", {"message": "hello"})
    await hub.block_till_done()
    assert port != 1 and len(failed) == 1
    assert failed[0]["target"] == "mail" and "SMTP 127.0.0.1:1" in failed[0]["error"]


async def test_a_hanging_server_never_blocks_the_caller_beyond_the_timeout(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "slow", "platform": "webhook", "url": receiver.url,
                                    "timeout": 0.3, "retries": 0}])
    failed = events(hub, "notify_failed")
    receiver.hang = asyncio.Event()
    started = time.monotonic()
    await hub.services.call("notify", "slow", {"message": "x"})
    waited = time.monotonic() - started
    assert waited < 1.0
    await hub.block_till_done()
    assert failed[0]["error"].endswith("no answer within 0.3 s")


async def test_notify_notify_reaches_every_target(setup_notify, receiver: Receiver, mailbox: Mailbox) -> None:
    hub: Hub = await setup_notify([
        {"name": "ops", "platform": "webhook", "url": receiver.url},
        {"name": "mail", "platform": "smtp", "server": mailbox.host, "port": mailbox.port, "encryption": "none",
         "sender": "hub@example.com", "recipient": "me@example.com"},
    ])
    await hub.services.call("notify", "notify", {"message": "both"})
    await receiver.wait_for(1)
    await mailbox.wait_for(1)


async def test_bad_template_is_a_clear_service_error(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "ops", "platform": "webhook", "url": receiver.url}])
    with pytest.raises(ServiceValidationError, match="Error rendering"):
        await hub.services.call("notify", "ops", {"message": "{{ states('sensor.x') | no_such_filter }}"})
    with pytest.raises(ServiceValidationError, match="message"):
        await hub.services.call("notify", "ops", {"title": "no message"})
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("targets", "error"),
    [
        ([{"name": "x", "platform": "pigeon"}], "platform must be one of smtp, webhook, ntfy"),
        ([{"name": "x", "platform": "webhook", "url": "ftp://x"}], "expected an http:// or https:// URL"),
        ([{"name": "x", "platform": "ntfy", "url": "http://n"}], "required key not provided"),
        ([{"name": "a", "platform": "webhook", "url": "http://h"}] * 2, "the name 'a' is taken"),
        ([{"name": "x", "platform": "smtp", "server": "s", "sender": "nobody", "recipient": "a@b"}],
         "expected an email address"),
    ],
)
def test_config_errors_name_the_problem(targets: list[dict[str, object]], error: str) -> None:
    with pytest.raises(vol.Invalid, match=error):
        notify.CONFIG_SCHEMA(targets)
