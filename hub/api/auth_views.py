"""Login and token endpoints: the device API's /api/v1/auth/* and Home Assistant's /auth/token."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hub.api.keys import HUB_KEY
from hub.api.onboarding import ONBOARDING_KEY
from hub.api.openapi import describe, errors, json_body, ref
from hub.api.responses import json_message
from hub.api.ws_messages import dumps, loads
from hub.auth.store import (
    AuthError,
    AuthStore,
    InvalidCredentialsError,
    LoginLockedError,
    RefreshTokenError,
    RefreshTokenReuseError,
)

_LOGGER = logging.getLogger(__name__)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store", **(headers or {})})


async def _object_body(request: web.Request) -> dict[str, Any] | None:
    try:
        data = loads(await request.read())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _token_pair(auth: AuthStore, user_id: str, refresh_raw: str, family_id: str) -> web.Response:
    access = auth.access
    return _json(
        {
            "access_token": access.issue(user_id, family_id),
            "refresh_token": refresh_raw,
            "token_type": "Bearer",
            "expires_in": access.lifetime,
        }
    )


async def login(request: web.Request) -> web.Response:
    """POST /api/v1/auth/login {username, password} -> access and refresh tokens."""
    auth = request.app[HUB_KEY].require_auth()
    body = await _object_body(request)
    if body is None or not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        return json_message("Expected a JSON object with 'username' and 'password' strings", 400)
    try:
        user = await auth.login(body["username"], body["password"], request.remote)
    except LoginLockedError as err:
        return _json({"message": str(err)}, 429, {"Retry-After": str(int(err.retry_after) + 1)})
    except InvalidCredentialsError as err:
        return json_message(str(err), 401)
    raw, token = await auth.create_refresh_token(user.id)
    return _token_pair(auth, user.id, raw, token.family_id or token.id)


async def refresh(request: web.Request) -> web.Response:
    """POST /api/v1/auth/refresh {refresh_token}: spend it, get a new pair (rotation)."""
    auth = request.app[HUB_KEY].require_auth()
    body = await _object_body(request)
    if body is None or not isinstance(body.get("refresh_token"), str):
        return json_message("Expected a JSON object with a 'refresh_token' string", 400)
    try:
        user, raw, token = await auth.rotate_refresh_token(body["refresh_token"])
    except RefreshTokenReuseError as err:
        _LOGGER.warning("Refresh token reuse from %s: %s", request.remote, err)
        return json_message(str(err), 401)
    except RefreshTokenError as err:
        return json_message(str(err), 401)
    return _token_pair(auth, user.id, raw, token.family_id or token.id)


async def logout(request: web.Request) -> web.Response:
    """POST /api/v1/auth/logout {refresh_token}: end that login session (its whole family)."""
    auth = request.app[HUB_KEY].require_auth()
    body = await _object_body(request)
    if body is None or not isinstance(body.get("refresh_token"), str):
        return json_message("Expected a JSON object with a 'refresh_token' string", 400)
    try:
        _user, token = await auth.validate_refresh_token(body["refresh_token"])
    except RefreshTokenError:
        return json_message("Logged out.")  # nothing to end: never reveal which tokens exist
    await auth.revoke_family(token.family_id)
    return json_message("Logged out.")


async def _form(request: web.Request) -> dict[str, str] | None:
    """Return the fields of a form body (urlencoded or multipart), None when it is not one."""
    try:
        form = await request.post()
    except (ValueError, AssertionError, UnicodeDecodeError, web.HTTPException):
        # A multipart body without its boundary, a broken encoding, a body too large.
        return None
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def ha_token(request: web.Request) -> web.Response:
    """POST /auth/token (form): HA's refresh_token grant, and action=revoke.

    Every grant rotates the refresh token, as /api/v1/auth/refresh does: the answer carries
    the successor in `refresh_token` (RFC 6749 section 6: the client must discard the old
    one). Presenting a spent refresh token again is taken for a stolen one and ends the
    session, on this endpoint as on the other.
    """
    auth = request.app[HUB_KEY].require_auth()
    form = await _form(request)
    if form is None:
        return _json({"error": "invalid_request", "error_description": "Expected a form body"}, 400)
    if form.get("action") == "revoke":
        raw = form.get("token")
        if isinstance(raw, str):
            try:
                _user, token = await auth.validate_refresh_token(raw)
                await auth.revoke_family(token.family_id)
            except AuthError:
                pass
        return web.Response(status=200)
    if form.get("grant_type") == "authorization_code":
        return await _exchange_auth_code(request, auth, form)
    if form.get("grant_type") != "refresh_token":
        return _json({"error": "unsupported_grant_type"}, 400)
    raw = form.get("refresh_token")
    if not isinstance(raw, str) or not raw:
        return _json({"error": "invalid_request"}, 400)
    try:
        user, new_raw, token = await auth.rotate_refresh_token(raw)
    except RefreshTokenReuseError as err:
        _LOGGER.warning("Refresh token reuse from %s: %s", request.remote, err)
        return _json({"error": "invalid_grant", "error_description": str(err)}, 400)
    except RefreshTokenError:
        return _json({"error": "invalid_grant"}, 400)
    return _json(
        {
            "access_token": auth.access.issue(user.id, token.family_id or token.id),
            "refresh_token": new_raw,
            "token_type": "Bearer",
            "expires_in": auth.access.lifetime,
        }
    )


async def _exchange_auth_code(request: web.Request, auth: AuthStore, form: dict[str, str]) -> web.Response:
    """HA's authorization_code grant, for the auth_code onboarding answers: a first token pair."""
    user_id = request.app[ONBOARDING_KEY].redeem(form.get("code") or "")
    user = None if user_id is None else await auth.get_user(user_id)
    if user is None or not user.is_active:
        return _json({"error": "invalid_request", "error_description": "Invalid code"}, 400)
    raw, token = await auth.create_refresh_token(user.id)
    response = _token_pair(auth, user.id, raw, token.family_id or token.id)
    return response


_TOKENS = json_body(ref("TokenPair"), "A new access token and the refresh token to use next")
_NO_STORE = {"Cache-Control": {"schema": {"type": "string"}, "description": "no-store"}}


def _auth_op(operation_id: str, summary: str, body: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"operationId": operation_id, "tags": ["auth"], "summary": summary, "security": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref(body)}}},
            "responses": responses}


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/auth/login": {"post": _auth_op(
        "login", "Log in with a user name and password", "LoginRequest",
        {"200": {**_TOKENS, "headers": _NO_STORE}, **errors(400, 401, 429)})},
    "/api/v1/auth/refresh": {"post": _auth_op(
        "refreshTokens", "Spend a refresh token for a new pair (a spent one again ends the session)",
        "RefreshRequest", {"200": _TOKENS, **errors(400, 401)})},
    "/api/v1/auth/logout": {"post": _auth_op(
        "logout", "End the login session of a refresh token (its access tokens stop at once)", "RefreshRequest",
        {"200": json_body(ref("Error"), "Logged out (also for a token that is unknown or spent)"), **errors(400)})},
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "LoginRequest": {"type": "object", "required": ["username", "password"],
                     "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
    "RefreshRequest": {"type": "object", "required": ["refresh_token"],
                       "properties": {"refresh_token": {"type": "string"}}},
    "TokenPair": {
        "type": "object", "required": ["access_token", "refresh_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string", "description": "A JWT for `Authorization: Bearer`"},
            "refresh_token": {"type": "string", "description": "Single use: each refresh answers the next one"},
            "token_type": {"type": "string", "const": "Bearer"},
            "expires_in": {"type": "integer", "description": "Seconds the access token is valid (900 by default)"},
        },
    },
}


def setup_auth_views(app: web.Application) -> None:
    """Add the login and token routes (public: they authenticate by themselves)."""
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/refresh", refresh)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_post("/auth/token", ha_token)
    describe(app, OPENAPI_PATHS, schemas=OPENAPI_SCHEMAS)
