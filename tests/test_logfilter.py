"""Outage warnings from the libraries the hub drives come as one line, not a traceback."""

from __future__ import annotations

import logging

import pytest

import hub.recorder.backends.postgres  # noqa: F401 - attaches the filter to asyncpg.pool
import integrations.mqtt.client_gmqtt  # noqa: F401 - attaches the filter to gmqtt's loggers


@pytest.mark.parametrize("name", ["asyncpg.pool", "gmqtt.mqtt.protocol", "gmqtt.mqtt.handler"])
def test_a_library_warning_keeps_its_message_and_loses_its_traceback(name: str, caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except OSError:
        logging.getLogger(name).warning("lost %s", "the connection", exc_info=True)
    (record,) = [r for r in caplog.records if r.name == name]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "lost the connection (ConnectionRefusedError: [Errno 111] Connect call failed)"
    assert "Traceback" not in caplog.text


def test_a_library_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise ValueError("a bug")
    except ValueError:
        logging.getLogger("gmqtt.mqtt.handler").exception("error handling package")
    assert "Traceback" in caplog.text and "ValueError: a bug" in caplog.text
