"""Nothing a broker acknowledged is lost: the short form of bench/faults.py, asserting 0 missing.

Real processes: the hub (`python -m hub run`), Mosquitto (external, or the hub's embedded one),
PostgreSQL and InfluxDB. A device publishes numbered readings at QoS 1 to 10 discovered sensors;
each fault hits mid-stream, and afterwards every reading the broker acknowledged must be in the
hub's history. Duplicates are allowed (at-least-once), and so are late readings (in history only
after the settle wait, as on a loaded machine): a reading counts as missing only when a further
late wait did not find it either. The long form with the issue's figures is
`python bench/faults.py`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import InfluxDBServer, PostgresServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]


def _load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "faults.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


faults = _load_bench()


@pytest.fixture(scope="module")
def servers(postgres_server: PostgresServer, influxdb_server: InfluxDBServer) -> Iterator[Any]:
    """The session's PostgreSQL and InfluxDB; a Mosquitto of this module's own (the faults kill it)."""
    instance = faults.Servers(postgres=postgres_server, influxdb=influxdb_server)
    try:
        yield instance
    finally:
        instance.close()


@pytest.mark.parametrize(
    "fault",
    [
        "hub_kill",
        "broker_kill",
        "broker_kill_hub_behind",
        "embedded_kill",
        "postgres_outage",
        "influxdb_outage",
        pytest.param(
            "disk_full",
            marks=pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs under the spool needs root"),
        ),
    ],
)
def test_every_acknowledged_reading_reaches_history(fault: str, servers: Any) -> None:
    result = faults.run_fault(fault, servers, faults.Plan.short(), log=lambda _line: None)
    report = f"{faults.HEADER}\n{result.row()}\n" + "\n".join(result.notes)
    assert result.acked > 0, report
    assert result.missing == 0, report
    assert result.found == result.acked, report
    assert result.whole_s is not None, report  # whole again: ready, and history caught up
    assert result.tracebacks == 0, report
    if fault == "disk_full":
        assert not any("NOT REPORTED" in note for note in result.notes), report
