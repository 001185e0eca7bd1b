"""How the hub serves the built UI: client routes, cache headers, and a hint when it is not built."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.api.frontend_files import ASSET_CACHE, add_frontend_routes


async def missing(request: web.Request) -> web.Response:
    return web.Response(text="build me with scripts/build-frontend", content_type="text/html")


async def api(request: web.Request) -> web.Response:
    return web.json_response({"message": "API running."})


def make_dist(folder: Path) -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><div id=app></div>")
    (folder / "assets" / "index-abc123.js").write_text("console.log(1)")
    (folder.parent / "secret.txt").write_text("not for the web")
    return folder


async def client_for(dist: Path) -> TestClient:
    app = web.Application()
    app.router.add_get("/api/", api)
    add_frontend_routes(app, dist, missing)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_client_routes_get_the_page_and_assets_are_cached(tmp_path):
    client = await client_for(make_dist(tmp_path / "dist"))
    try:
        # A page whose last segment has a dot (an entity id) is a page, not a missing file.
        for path in ("/", "/history", "/automations/kitchen_light", "/automations/automation.kitchen_light",
                     "/entities/sensor.heater_power"):
            response = await client.get(path)
            assert response.status == 200, path
            assert "<div id=app>" in await response.text()
            assert response.headers["Cache-Control"] == "no-cache"
        asset = await client.get("/assets/index-abc123.js")
        assert asset.status == 200
        assert asset.headers["Cache-Control"] == ASSET_CACHE
        assert (await client.get("/api/")).status == 200
        assert (await client.get("/api/nope")).status == 404
        assert (await client.get("/assets/missing.js")).status == 404
        assert (await client.get("/assets/..%2F..%2Fsecret.txt")).status == 404
        assert (await client.get("/favicon.ico")).status == 404
        assert (await client.get("/robots.txt")).status == 404
        assert (await client.post("/history")).status in (404, 405)
    finally:
        await client.close()


async def test_without_a_build_every_page_says_how_to_build(tmp_path):
    client = await client_for(tmp_path / "dist")
    try:
        for path in ("/", "/history"):
            response = await client.get(path)
            assert response.status == 200
            assert "scripts/build-frontend" in await response.text()
    finally:
        await client.close()
