"""Schema-driven tests of /api/v1: schemathesis against a real hub's own OpenAPI document.

A real hub (the shipped configuration, SQLite, the embedded broker, a simulated meter node, an
admin token and a device key) serves; schemathesis reads /api/v1/openapi.json and sends every
described operation generated requests, valid and invalid, one after another and in sequences
(create a rule, read it, replace it, delete it ...). Every answer must match its description:
a documented status, a body of the documented schema and content type, no 500, and a request
the schema refuses must not be accepted.

Seeded and bounded for CI (8 examples per operation, about 45 s). The long form:

    HUB_SCHEMATHESIS_EXAMPLES=200 HUB_SCHEMATHESIS_SEED=$RANDOM \\
        .venv/bin/pytest -q tests/api/test_schemathesis.py -p no:cacheprovider --timeout 3600

Left out, with the reason:
- the check that every schema-valid request is accepted (`positive_data_acceptance`): JSON
  Schema cannot say what the hub checks beyond it (an automation's triggers and actions, that
  a device name has letters, that an id is free), so such requests rightly get 400 or 409;
- `/api/v1/realtime`: a WebSocket, not an HTTP operation; tests/api/test_devices_v1.py drives it;
- `/api/v1/openapi.json`, which schemathesis reads and does not test; tests/api/test_openapi.py does.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from automations.rules_api import LIMITS_KEY
from hub.api.rate_limit import Rate

from .apihub import ApiHub, api_hub  # noqa: F401 - the fixture

EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "8"))
SEED = int(os.environ.get("HUB_SCHEMATHESIS_SEED", "20"))
NOT_FUZZED = ("/api/v1/realtime",)
SELF = "/api/v1/openapi.json"  # schemathesis leaves out the document it reads; test_openapi.py tests it


async def _device_key(hub: ApiHub) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{hub.url}/api/v1/apikeys", json={"name": "fuzz node"}, headers=hub.headers) as answer:
            assert answer.status == 201
            key: str = (await answer.json())["key"]
            return key


# A guard against a hang, not a time budget: the run is a fixed amount of work (EXAMPLES per
# operation, one request at a time) whose wall time follows the machine's load: about 45 s alone,
# over 180 s beside other jobs on 2 cores.
@pytest.mark.timeout(max(600, EXAMPLES * 60))
async def test_every_operation_answers_as_described(api_hub: ApiHub, tmp_path: Path) -> None:  # noqa: F811
    from hub.demo import start_demo

    # The fuzzer sends far faster than a person: lift the rule routes' rate limit so their logic is
    # reached (test_rules_v1.py tests the limit; its 429 is described and checked here all the same).
    assert api_hub.runtime.runner is not None
    limits = api_hub.runtime.runner.app[LIMITS_KEY]
    limits.per_user.rate = limits.per_device.rate = Rate(0, 1.0)
    stop_demo = await start_demo(api_hub.runtime.hub, nodes=1, interval=1.0)
    try:
        key = await _device_key(api_hub)
        operations = sum(1 for path, item in api_hub.document()["paths"].items() if path not in (*NOT_FUZZED, SELF)
                         for method in item if method in ("get", "post", "put", "patch", "delete"))
        # schemathesis blocks while it waits for answers: it runs in its own process, and the
        # hub keeps serving on this loop.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "schemathesis.cli", "run", f"{api_hub.url}/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {api_hub.token}", "--header", f"X-API-Key: {key}",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            *(arg for path in NOT_FUZZED for arg in ("--exclude-path", path)),
            "--seed", str(SEED), "--max-examples", str(EXAMPLES), "--workers", "1",
            "--request-timeout", "20", "--no-color", "--output-truncate", "false",
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            output, _ = await process.communicate()
        finally:
            if process.returncode is None:  # the test timed out: schemathesis does not outlive it
                process.kill()
                await process.wait()
    finally:
        await stop_demo()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-20000:]
    tested = re.search(r"Tested: (\d+)", text)
    assert tested is not None and int(tested.group(1)) == operations, text[-3000:]
