"""The OpenAPI document describes /api/v1/scenes and /api/v1/schedules as they answer: every
answer of these routes, good and refused, matches the schema the document gives for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import jsonschema

from tests.automations.test_scenes_api import YAML_SCENES, _tokens
from tests.hubs import write_config

CONFIG = """
homeassistant:
  name: Test home
input_boolean:
  lamp:
automation: []
scene: !include scenes.yaml
schedule:
  heating:
    name: Heating
    monday: [{from: "07:00", to: "09:00", data: {target: 21}}]
  nightly:
    cron: "0 3 * * *"
    sequence: []
"""


async def test_every_answer_matches_its_described_schema(tmp_path: Path, start_hub: Any) -> None:
    folder = write_config(tmp_path / "config", CONFIG)
    (folder / "scenes.yaml").write_text(YAML_SCENES)
    runtime = await start_hub(folder)
    tokens = await _tokens(runtime)
    base = runtime.url
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v1/openapi.json", headers=tokens["read-only"]) as answer:
            document = await answer.json()
        paths = document["paths"]
        assert {m for m in paths["/api/v1/scenes/{scene_id}"]} == {"get", "put", "delete"}
        assert "post" in paths["/api/v1/schedules/{schedule_id}/disable"]
        jsonschema.Draft202012Validator.check_schema({"components": document["components"]})

        calls = [
            ("get", "/api/v1/scenes", "/api/v1/scenes", "read-only", None),
            ("get", "/api/v1/scenes/{scene_id}", "/api/v1/scenes/evening", "user", None),
            ("get", "/api/v1/scenes/{scene_id}", "/api/v1/scenes/none", "user", None),
            ("post", "/api/v1/scenes", "/api/v1/scenes", "admin", {"name": "A", "entities": {"input_boolean.lamp": "on"}}),
            ("post", "/api/v1/scenes", "/api/v1/scenes", "admin", {"entities": {"Bad": 1}}),
            ("post", "/api/v1/scenes", "/api/v1/scenes", "user", {"name": "A", "entities": {"input_boolean.lamp": "on"}}),
            ("put", "/api/v1/scenes/{scene_id}", "/api/v1/scenes/no_id", "admin", {"name": "B", "entities": {"input_boolean.lamp": 1}}),
            ("post", "/api/v1/scenes/{scene_id}/activate", "/api/v1/scenes/evening/activate", "user", None),
            ("delete", "/api/v1/scenes/{scene_id}", "/api/v1/scenes/a", "admin", None),
            ("get", "/api/v1/schedules", "/api/v1/schedules", "read-only", None),
            ("post", "/api/v1/schedules", "/api/v1/schedules", "admin",
             {"name": "Boiler", "friday": [{"from": "06:00", "to": "24:00", "data": {"mode": "eco"}}]}),
            ("post", "/api/v1/schedules", "/api/v1/schedules", "admin", {"name": "Boiler"}),
            ("post", "/api/v1/schedules", "/api/v1/schedules", "admin", {"monday": [{"from": "x"}]}),
            ("get", "/api/v1/schedules/{schedule_id}", "/api/v1/schedules/nightly", "user", None),
            ("put", "/api/v1/schedules/{schedule_id}", "/api/v1/schedules/heating", "admin", {"name": "H"}),
            ("post", "/api/v1/schedules/{schedule_id}/disable", "/api/v1/schedules/heating/disable", "user", None),
            ("post", "/api/v1/schedules/{schedule_id}/enable", "/api/v1/schedules/heating/enable", "read-only", None),
            ("delete", "/api/v1/schedules/{schedule_id}", "/api/v1/schedules/boiler", "admin", None),
        ]
        seen = set()
        for method, template, url, role, body in calls:
            async with http.request(method, f"{base}{url}", json=body, headers=tokens[role]) as answer:
                status = str(answer.status)
                described = paths[template][method]["responses"]
                assert status in described, (method, url, status, await answer.text())
                seen.add((method, template, status))
                content = described[status].get("content")
                if content is None:
                    assert await answer.read() == b""
                    continue
                schema = {**content["application/json"]["schema"], "components": document["components"]}
                jsonschema.validate(await answer.json(), schema, cls=jsonschema.Draft202012Validator)
    assert {s for _, _, s in seen} >= {"200", "201", "204", "400", "401", "404", "409"}


def _random_value(rng: Any, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "none", "time"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "on", "x" * rng.randint(1, 300), "light.x", "Not An Id", "ü/~", "24:00", "07:00:00"])
    if kind == "int":
        return rng.choice([0, -1, 1, 2**63, 1733212800000])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e308])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "time":
        return f"{rng.randint(0, 30)}:{rng.randint(0, 70):02d}"
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["name", "id", "icon", "entities", "monday", "from", "to", "data", "state", "light.x", "sunday", "?"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


async def test_random_bodies_get_a_described_answer_never_a_500(tmp_path: Path, start_hub: Any) -> None:
    import random  # noqa: PLC0415

    folder = write_config(tmp_path / "config", CONFIG)
    (folder / "scenes.yaml").write_text(YAML_SCENES)
    runtime = await start_hub(folder)
    tokens = await _tokens(runtime)
    rng = random.Random(20)  # seeded: the same 150 bodies in every run
    targets = [("post", "/api/v1/scenes", "/api/v1/scenes"), ("put", "/api/v1/scenes/{scene_id}", "/api/v1/scenes/evening"),
               ("post", "/api/v1/schedules", "/api/v1/schedules"),
               ("put", "/api/v1/schedules/{schedule_id}", "/api/v1/schedules/heating")]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{runtime.url}/api/v1/openapi.json", headers=tokens["admin"]) as answer:
            paths = (await answer.json())["paths"]
        for _ in range(150):
            method, template, url = rng.choice(targets)
            body = _random_value(rng)
            async with http.request(method, f"{runtime.url}{url}", json=body, headers=tokens["admin"]) as answer:
                text = await answer.text()
                assert answer.status < 500, (method, url, body, text)
                assert str(answer.status) in paths[template][method]["responses"], (method, url, body, answer.status, text)
