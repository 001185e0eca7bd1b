"""The OpenAPI document of /api/v1: every route described, served to callers with a token, rendered in docs/api.md."""

from __future__ import annotations

import re

import aiohttp

from scripts.api_docs import DOC, generated_part, render

from .apihub import ApiHub, api_hub  # noqa: F401 - the fixture

NOT_YET_DESCRIBED: tuple[re.Pattern[str], ...] = ()  # every /api/v1 route is described
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
_PATTERN = re.compile(r"{(\w+)(:[^}]*)?}")  # aiohttp's {name:regex} is {name} in OpenAPI


def _served(hub: ApiHub) -> set[str]:
    """Every `METHOD path` under /api/v1 the running app's router answers."""
    assert hub.runtime.runner is not None
    served = set()
    for route in hub.runtime.runner.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/v1/") and route.method in METHODS:
            served.add(route.method + " " + _PATTERN.sub(r"{\1}", path))
    return served


async def test_every_api_v1_route_is_described(api_hub: ApiHub) -> None:  # noqa: F811
    document = api_hub.document()
    described = {f"{method.upper()} {path}" for path, item in document["paths"].items()
                 for method in item if method.upper() in METHODS}
    served = _served(api_hub)
    assert "POST /api/v1/automation/rules" in served and "POST /api/v1/telemetry" in served
    missing = sorted(r for r in served - described if not any(p.match(r) for p in NOT_YET_DESCRIBED))
    assert missing == [], "routes without an OpenAPI description"
    assert sorted(described - served) == [], "described but not served"
    operation_ids = [op["operationId"] for item in document["paths"].values()
                     for method, op in item.items() if method.upper() in METHODS]
    assert len(operation_ids) == len(set(operation_ids))


async def test_the_document_is_served_to_callers_with_a_token(api_hub: ApiHub) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api_hub.url}/api/v1/openapi.json") as answer:
            assert answer.status == 401
        async with http.get(f"{api_hub.url}/api/v1/openapi.json", headers=api_hub.headers) as answer:
            assert answer.status == 200
            served = await answer.json()
    assert served["openapi"] == "3.1.0" and served == api_hub.document()
    rules = served["paths"]["/api/v1/automation/rules"]["post"]
    assert rules["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RuleConfig"}
    assert set(rules["responses"]) == {"201", "400", "401", "403", "409", "429"}


async def test_docs_api_md_is_what_the_running_hub_describes(api_hub: ApiHub) -> None:  # noqa: F811
    expected = render(api_hub.document())
    assert generated_part(DOC.read_text()) == expected, (
        "docs/api.md is out of date: run .venv/bin/python scripts/api_docs.py")
