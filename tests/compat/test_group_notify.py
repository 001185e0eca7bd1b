"""The group notify platform fans one message out to several notify actions (two real webhooks here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub import bootstrap
from tests.hubs import write_config
from tests.integrations.notify.conftest import Receiver, receiver  # noqa: F401 - the HTTP receiver fixture


async def test_group_notify_reaches_two_webhook_targets(tmp_path: Path, start_hub: Any, receiver: Receiver) -> None:  # noqa: F811
    config = write_config(tmp_path / "config", f"""\
        notify:
          - name: ops_webhook
            platform: webhook
            url: {receiver.url}/ops
          - name: phone_webhook
            platform: webhook
            url: {receiver.url}/phone
        notify family:
          - name: family
            platform: group
            services:
              - action: ops_webhook
              - service: phone_webhook
                data:
                  title: Phone title
        """)
    bootstrap.check_config(config)
    runtime = await start_hub(config)
    await runtime.hub.services.call("notify", "family", {"message": "Washer done: {{ 2 + 3 }} kWh", "title": "Laundry"}, blocking=True)
    requests = await receiver.wait_for(2)
    bodies = {request["path"]: json.loads(request["body"]) for request in requests}
    assert set(bodies) == {"/ops", "/phone"}
    assert bodies["/ops"]["message"] == "Washer done: 5 kWh" and bodies["/ops"]["title"] == "Laundry"
    assert bodies["/phone"]["message"] == "Washer done: 5 kWh" and bodies["/phone"]["title"] == "Phone title"


def test_a_group_member_without_an_action_is_reported_with_its_line(tmp_path: Path) -> None:
    import pytest

    from hub.exceptions import ConfigError

    config = write_config(tmp_path / "config", """\
        notify:
          - name: family
            platform: group
            services:
              - data: {title: x}
        """)
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(config)
    assert [issue.format() for issue in caught.value.issues] == ["configuration.yaml:5: notify[0].services[0].action: required key not provided"]
