"""The OpenAPI registry merges what modules describe and refuses an operation described twice."""

import pytest
from aiohttp import web

from hub.api.openapi import describe, document
from hub.exceptions import HubError


def test_paths_merge_per_method_and_a_second_owner_is_refused():
    app = web.Application()
    describe(app, {"/api/v1/x": {"get": {"responses": {"200": {"description": "ok"}}}}}, schemas={"X": {"type": "object"}})
    describe(app, {"/api/v1/x": {"post": {"responses": {"201": {"description": "made"}}}}})
    doc = document(app)
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]["/api/v1/x"]) == {"get", "post"}
    assert doc["components"]["schemas"]["X"] == {"type": "object"}
    with pytest.raises(HubError, match="GET /api/v1/x is described twice"):
        describe(app, {"/api/v1/x": {"get": {}}})


def test_the_shared_error_schema_is_in_every_document_and_cannot_be_redefined():
    app = web.Application()
    assert document(app)["components"]["schemas"]["Error"]["required"] == ["message"]
    describe(app, {}, schemas={"Error": document(app)["components"]["schemas"]["Error"]})
    with pytest.raises(HubError, match="'Error' is described twice"):
        describe(app, {}, schemas={"Error": {"type": "object"}})
