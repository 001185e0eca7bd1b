"""What the /api/v1 scene and schedule routes share: JSON answers, roles, audit, field errors.

A refused body is answered 400 with `{"message", "errors": [{"pointer", "message"}]}`: each
error names the field by its JSON pointer (RFC 6901), e.g. `/monday/0/to`.

`Items` holds the steps every item route repeats: role allowed (else 401, audited), item found
(else 404), JSON body read (else 400), the change itself, and the audit of how it ended; and
the OpenAPI description of the list/create/get/replace/delete routes and their actions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiohttp import web

from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.openapi import describe
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


T = TypeVar("T")


class Refusal(HubError):
    """An item route refuses: the status, message and field errors of its answer."""

    def __init__(self, message: str, status: int, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors

    def response(self) -> web.Response:
        """The JSON answer of the refusal."""
        return refuse(str(self), self.status, self.errors)


Change = Callable[[str, T, dict[str, Any]], Awaitable[web.Response]]


@dataclass(frozen=True)
class Items(Generic[T]):
    """One kind of item under /api/v1/<plural>/{<noun>_id}: how to find one and how to audit it.

    Attributes:
        noun: "scene"; the audit actions are "<noun>/<verb>".
        plural: "scenes", the path under /api/v1.
        find: the item with an id, or None.
        target: what the audit log names for an id, e.g. "schedule.<id>".
        conflicts: the store's errors that refuse a change; answered with their `status`, else 409.
    """

    noun: str
    plural: str
    find: Callable[[Hub, str], T | None]
    target: Callable[[str], str] = str
    conflicts: tuple[type[Exception], ...] = field(default=())

    @property
    def param(self) -> str:
        """The path parameter of an item's id."""
        return f"{self.noun}_id"

    def opening(self, request: web.Request, verb: str, *, admin: bool) -> tuple[str, T]:
        """Return the id and item a request names, once the caller's role allows the verb.

        Raises:
            Refusal: 401 (audited) for a role that may not, 404 for an unknown id.
        """
        item_id = request.match_info[self.param]
        if not allowed(request, f"{self.noun}/{verb}", self.target(item_id), admin=admin):
            raise Refusal("Unauthorized", 401)
        item = self.find(hub_of(request), item_id)
        if item is None:
            raise Refusal(f"{self.noun.capitalize()} not found.", 404)
        return item_id, item

    async def change(self, request: web.Request, verb: str, act: Change[T], *, admin: bool = True,
                     body: bool = True) -> web.Response:
        """Answer an admin's change of one item: opening, body, `act(id, item, body)`, audit.

        `act` raises BodyError (400 naming the fields), Refusal or one of `conflicts` to refuse;
        a refusal after the item was found is audited with its reason, as is success.
        """
        item_id = request.match_info[self.param]
        try:
            _, item = self.opening(request, verb, admin=admin)
            data = await read_object(request) if body else {}
            try:
                result = await act(item_id, item, data)
            except self.conflicts as err:
                fields = [FieldError(p.pointer, p.text) for p in getattr(err, "problems", ())]
                raise Refusal(str(err), getattr(err, "status", 409), fields or None) from None
        except BodyError as err:
            return refuse(f"Invalid {self.noun}: {err}", 400, err.errors)
        except Refusal as refusal:
            if refusal.status not in (401, 404):
                audit(request, f"{self.noun}/{verb}", self.target(item_id), "refused", reason=str(refusal))
            return refusal.response()
        audit(request, f"{self.noun}/{verb}", self.target(item_id), "ok")
        return result

    def describe(self, app: web.Application, *, schemas: dict[str, Any], summaries: dict[str, str],
                 create_errors: tuple[int, ...], delete_errors: tuple[int, ...],
                 actions: dict[str, str]) -> None:
        """Describe the routes in the OpenAPI document.

        Args:
            app: the application the routes are on.
            schemas: the item's schema under its capitalised noun and its input under "<Noun>Input", with any others.
            summaries: the summary of "list", "create", "get", "replace" and "delete".
            create_errors: the error codes of POST; delete_errors those of DELETE.
            actions: each POST .../{id}/<verb> route with its summary.
        """
        noun, plural = self.noun.capitalize(), self.plural.capitalize()
        ref = {"$ref": f"#/components/schemas/{noun}"}
        param = [{"name": self.param, "in": "path", "required": True, "schema": {"type": "string"}}]
        body = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{noun}Input"}}}}
        one = _json(ref, f"The {self.noun}")
        tags = [self.plural]
        base, item = f"/api/v1/{self.plural}", f"/api/v1/{self.plural}/{{{self.param}}}"
        paths: dict[str, Any] = {
            base: {
                "get": {"operationId": f"list{plural}", "summary": summaries["list"], "tags": tags,
                        "responses": responses({"200": _json({"type": "array", "items": ref}, f"Every {self.noun}")}, 401)},
                "post": {"operationId": f"create{noun}", "summary": summaries["create"], "tags": tags, "requestBody": body,
                         "responses": responses({"201": _json(ref, f"The new {self.noun}")}, *create_errors)},
            },
            item: {
                "get": {"operationId": f"get{noun}", "summary": summaries["get"], "tags": tags, "parameters": param,
                        "responses": responses({"200": one}, 401, 404)},
                "put": {"operationId": f"replace{noun}", "summary": summaries["replace"], "tags": tags, "parameters": param,
                        "requestBody": body, "responses": responses({"200": one}, 400, 401, 404, 409)},
                "delete": {"operationId": f"delete{noun}", "summary": summaries["delete"], "tags": tags, "parameters": param,
                           "responses": responses({"204": {"description": "Removed"}}, *delete_errors)},
            },
        }
        for verb, summary in actions.items():
            paths[f"{item}/{verb}"] = {"post": {"operationId": f"{verb}{noun}", "summary": summary, "tags": tags,
                                                "parameters": param, "responses": responses({"200": one}, 401, 404)}}
        describe(app, paths, schemas={**schemas, "ErrorWithFields": ERROR_SCHEMA})


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
