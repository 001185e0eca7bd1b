"""What the /api/v1 scene and schedule routes share: JSON answers, roles, audit, field errors.

A refused body is answered 400 with `{"message", "errors": [{"pointer", "message"}]}`: each
error names the field by its JSON pointer (RFC 6901), e.g. `/monday/0/to`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.permissions import can_control
from hub.api.ws_messages import dumps, loads
from hub.exceptions import HubError

if TYPE_CHECKING:
    from hub.core.hub import Hub


@dataclass(frozen=True)
class FieldError:
    """What is wrong with one field of a request body."""

    pointer: str
    message: str


class BodyError(HubError):
    """A request body was refused; `errors` name each field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.pointer or '/'}: {e.message}" for e in errors))
        self.errors = errors


def pointer(*parts: Any) -> str:
    """Return the JSON pointer of a path (`~` and `/` escaped as RFC 6901 says)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def answer(data: Any, status: int = 200) -> web.Response:
    """A JSON response."""
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def refuse(message: str, status: int, errors: list[FieldError] | None = None) -> web.Response:
    """A JSON error: `{"message"}` plus the field errors when there are some."""
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = [{"pointer": e.pointer, "message": e.message} for e in errors]
    return answer(body, status)


async def read_object(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object body.

    Raises:
        BodyError: not JSON, or not an object.
    """
    try:
        body = loads(await request.read())
    except ValueError:
        raise BodyError([FieldError("", "the body is not valid JSON")]) from None
    if not isinstance(body, dict):
        raise BodyError([FieldError("", "expected a JSON object")])
    return body


def hub_of(request: web.Request) -> Hub:
    """The hub serving the request."""
    return request.app[HUB_KEY]


def allowed(request: web.Request, action: str, target: str, *, admin: bool) -> bool:
    """Whether the caller's role allows the action; a refusal is audited with who and why."""
    user = request[USER_KEY]
    ok = user.is_admin if admin else can_control(user)
    if not ok:
        audit(request, action, target, "refused", reason=f"{'admins' if admin else 'control roles'} only; "
                                                          f"user is {user.role}")
    return ok


def audit(request: web.Request, action: str, target: str, result: str, *, reason: str | None = None,
          context: Any = None) -> None:
    """Record an action in the audit log (when the hub has users)."""
    hub = hub_of(request)
    if hub.auth is not None:
        hub.auth.audit.record(request[USER_KEY], action, target, result, request.remote, reason=reason,
                              context=context)


ERROR_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "message"],
                "properties": {"pointer": {"type": "string", "description": "JSON pointer of the field"},
                               "message": {"type": "string"}},
            },
        },
    },
}


def responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    """OpenAPI responses: the success ones given, plus the errors named by code."""
    texts = {400: "The body was refused; `errors` name the fields", 401: "Not logged in, or the role may not",
             404: "No such item", 409: "The item exists already, or cannot be changed here"}
    out = dict(ok)
    for code in codes:
        out[str(code)] = {"description": texts[code],
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorWithFields"}}}}
    return out
