"""The benches' WebSocket subscriber processes take their token from the environment.

A long-lived token is URL-safe base64: one that starts with "-" on the command line was an
option to argparse, and `bench/mqtt_ingest.py --ws` stopped before its first row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", ["mqtt_ingest.py", "blackbox.py"])
def test_a_token_that_starts_with_a_dash_reaches_the_subscriber(script: str) -> None:
    # Nobody listens on the port: the subscriber gets as far as connecting, with the token it was given.
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "BENCH_WS_TOKEN": "-x9fQ_token-that-looks-like-an-option"}
    done = subprocess.run([sys.executable, str(BENCH / script), "--ws-subscriber", url], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert "expected" not in done.stderr and "usage:" not in done.stderr, done.stderr
    assert "ClientConnectorError" in done.stderr or "Cannot connect" in done.stderr, done.stderr


def test_without_the_token_the_subscriber_says_where_it_belongs() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BENCH_WS_TOKEN"}
    done = subprocess.run([sys.executable, str(BENCH / "mqtt_ingest.py"), "--ws-subscriber", f"http://127.0.0.1:{free_port()}"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "BENCH_WS_TOKEN is not set" in done.stderr, done.stderr
