"""Run `hub run` as the command line does, instrumented, until N MQTT sensors are live; print what it did.

    python -m tests.startup.child N run -c CONFIG --data DATA --port PORT

Prints one JSON line: how many configs were validated (and how many of them by voluptuous
rather than the fast path), how many device blocks were, how many times the device registry
did its full get_or_create, which modules of LAZY were imported, and the CPU seconds so far;
then stops the hub with SIGTERM, as a service manager would.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import time

# Not needed by a default start (config: homeassistant, mqtt on an external broker, the recorder)
# with its database at the current revision: imported only when used. Pygments (~5 MB), which
# Alembic's Mako would import, not even when a new database is migrated
# (hub.storage.engine.import_alembic); numpy (~11 MB) only with the first chart query;
# prometheus_client (~5 MB) only with the first scrape of /metrics; cryptography (~9 MB) neither
# for the HS256 tokens (PyJWT imported without it) nor without an embedded broker serving TLS.
LAZY = ("alembic", "ulid", "integrations.mqtt.cli", "hub.homes.host", "hub.tenancy.store", "pygments", "numpy",
        "prometheus_client", "cryptography")


def main() -> int:
    entities = int(sys.argv[1])
    import hub.bootstrap as bootstrap
    import hub.cli
    from hub.registry.devices import DeviceRegistry
    from integrations.mqtt import schemas
    from integrations.mqtt.discovery import Discovery
    from integrations.mqtt.schemas import SCHEMAS

    counts = {"validated": 0, "device_get_or_create": 0, "slow_validations": 0, "device_validations": 0}
    validate, get_or_create = Discovery._validate, DeviceRegistry._get_or_create

    def counting_validate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["validated"] += 1
        return validate(self, *args, **kwargs)

    async def counting_get_or_create(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["device_get_or_create"] += 1
        return await get_or_create(self, *args, **kwargs)

    Discovery._validate = counting_validate  # type: ignore[method-assign]

    def counting_slow(slow):  # type: ignore[no-untyped-def]
        def validate(config):  # type: ignore[no-untyped-def]
            counts["slow_validations"] += 1  # voluptuous's own path: the fast one did not take the config
            return slow(config)

        return validate

    for schema in SCHEMAS.values():
        schema.slow = counting_slow(schema.slow)
    DeviceRegistry._get_or_create = counting_get_or_create  # type: ignore[method-assign]
    device_schema = schemas.DEVICE_SCHEMA

    def counting_device_schema(block):  # type: ignore[no-untyped-def]
        counts["device_validations"] += 1
        return device_schema(block)

    schemas.DEVICE_SCHEMA = counting_device_schema  # type: ignore[assignment]

    async def watch(core):  # type: ignore[no-untyped-def]
        while True:
            await asyncio.sleep(0.01)
            live = [s for s in core.states.all() if s.entity_id.startswith("sensor.") and s.state not in ("unknown", "unavailable")]
            if len(live) >= entities:
                break
        # What the next start reads written before the stop (whose teardown a loaded machine can
        # cut short): the discovery cache and the registries.
        import integrations.mqtt

        mqtt = integrations.mqtt.runtime_of(core)
        if mqtt is not None and mqtt.discovery is not None and mqtt.store is not None:
            await mqtt.discovery.wait_idle()
            await mqtt.store.flush()
        print(json.dumps({**counts, "modules": sorted(m for m in LAZY if m in sys.modules), "cpu": time.process_time(),
                          "collecting": gc.isenabled()}),
              flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    run_core = bootstrap.run_core

    async def watched_run_core(core):  # type: ignore[no-untyped-def]
        asyncio.get_running_loop().create_task(watch(core))
        await run_core(core)

    bootstrap.run_core = watched_run_core
    sys.argv = ["hub", *sys.argv[2:]]
    return hub.cli.main()


if __name__ == "__main__":
    sys.exit(main())
