"""The OpenAPI 3.1 description of /api/v1, assembled from what each module that adds routes declares.

A module (core or integration) that adds an /api/v1 route describes it where it adds it:

    describe(app, {"/api/v1/devices": {"get": {...operation...}}}, schemas={"Device": {...}})

Path items merge per method, so two modules may describe different methods of one path; a
method described twice is an error at startup (one owner per operation). The document is served
at GET /api/v1/openapi.json (to any authenticated caller) and rendered in docs/api.md.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from hub.exceptions import HubError

_PATHS: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("openapi_paths", dict)
_SCHEMAS: web.AppKey[dict[str, Any]] = web.AppKey("openapi_schemas", dict)

INFO = {"title": "powerhub device API", "version": "1"}
# Every /api/v1 error answer: `{"message": ...}` as Home Assistant's REST API answers, and
# optional details (rules add `pointer` and `errors`). Described here once for every module.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "description": "What went wrong and what to do"}},
}
_ERROR_TEXT = {
    400: "The request is malformed or does not pass validation",
    401: "No valid bearer token (an access token or a long-lived token)",
    403: "The user's role may not do this",
    404: "Not found",
    409: "The request conflicts with the current configuration",
    429: "Too many requests: retry after the `Retry-After` header's seconds",
}


BUILT_IN_SCHEMAS = {"Error": ERROR_SCHEMA}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response (or request body) carrying application/json of schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int, schema: str = "Error") -> dict[str, Any]:
    """The error responses of an operation, each an Error (or the named schema) body."""
    responses: dict[str, Any] = {}
    for code in codes:
        response = json_body(ref(schema), _ERROR_TEXT[code])
        if code == 429:
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
        responses[str(code)] = response
    return responses


def describe(app: web.Application, paths: dict[str, dict[str, Any]], schemas: dict[str, Any] | None = None) -> None:
    """Add path items (OpenAPI 3.1 Path Item Objects keyed by path) and component schemas."""
    known = app.setdefault(_PATHS, {})
    for path, item in paths.items():
        merged = known.setdefault(path, {})
        for method, operation in item.items():
            if method in merged:
                message = f"OpenAPI: {method.upper()} {path} is described twice"
                raise HubError(message)
            merged[method] = operation
    known_schemas = app.setdefault(_SCHEMAS, {})
    for name, schema in (schemas or {}).items():
        if known_schemas.get(name, BUILT_IN_SCHEMAS.get(name, schema)) != schema:
            message = f"OpenAPI: component schema {name!r} is described twice, differently"
            raise HubError(message)
        known_schemas[name] = schema


def document(app: web.Application) -> dict[str, Any]:
    """Return the whole OpenAPI 3.1 document of what has been described on this app."""
    described: dict[str, Any] = app.get(_SCHEMAS, {})
    schemas = {**BUILT_IN_SCHEMAS, **described}
    return {
        "openapi": "3.1.0",
        "info": dict(INFO),
        "paths": copy.deepcopy(dict(sorted(app.get(_PATHS, {}).items()))),
        "components": {
            "schemas": copy.deepcopy(schemas),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An access token (JWT, from /api/v1/auth/login) or a long-lived token"},
                "deviceKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                              "description": "A device API key (also accepted as `Authorization: Bearer <key>`)"},
            },
        },
        "security": [{"bearer": []}],
    }


async def _serve(request: web.Request) -> web.Response:
    return web.json_response(document(request.app))


def setup_openapi(app: web.Application) -> None:
    """Add GET /api/v1/openapi.json.

    It needs a token, as all of /api/ does (Home Assistant's way): the document tells which
    integrations a hub runs, and a client that can use the API has a token anyway.
    """
    app.router.add_get("/api/v1/openapi.json", _serve)
    describe(app, {"/api/v1/openapi.json": {"get": {
        "operationId": "getOpenApi", "tags": ["meta"], "summary": "This document (OpenAPI 3.1)",
        "description": "What the running hub serves: routes of integrations it does not run are not in it.",
        "responses": {"200": json_body({"type": "object", "required": ["openapi", "info", "paths"]},
                                       "The OpenAPI document"), **errors(401)},
    }}})
