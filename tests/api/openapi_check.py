"""Check an answer of the running hub against the OpenAPI document it serves."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def check_answer(document: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    """Raise jsonschema's ValidationError unless `body` fits the described answer of this status.

    Raises:
        AssertionError: the operation or that status is not described at all.
    """
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, which is not described"
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(document, DRAFT202012))
    fragment = _pointer("paths", path, method, "responses", str(status), "content", "application/json", "schema")
    Draft202012Validator({"$ref": "urn:openapi#" + quote(fragment)}, registry=registry).validate(body)
