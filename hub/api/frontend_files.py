"""Serve the built web UI: index.html for every client route, hashed assets cached for a year."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Vite puts a content hash in every asset name, so a file never changes under its name.
ASSET_CACHE = "public, max-age=31536000, immutable"
# index.html names the current assets: always revalidate it so an upgrade shows at once.
INDEX_CACHE = "no-cache"
# Paths that belong to the API (or its auth endpoints): a miss there stays a 404.
API_PREFIXES = ("/api/", "/auth/")
MAX_NAME = 255  # no asset name is longer (most file systems refuse longer ones)


def add_frontend_routes(app: web.Application, dist: Path, missing: Handler) -> None:
    """Serve dist/ at / (or `missing` when it is not built) and answer client routes with index.html."""
    index = dist / "index.html"
    if not index.exists():
        app.router.add_get("/", missing)
        app.middlewares.append(_client_routes(missing))
        return
    assets = (dist / "assets").resolve()

    async def serve_index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(index, headers={"Cache-Control": INDEX_CACHE})

    async def serve_asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if len(name) > MAX_NAME or "\0" in name:
            raise web.HTTPNotFound
        try:
            path = (assets / name).resolve()
            # resolve() collapses "..": anything outside assets/ is not ours to serve.
            found = path.parent == assets and path.is_file()
        except (OSError, ValueError):  # a name the file system refuses
            found = False
        if not found:
            raise web.HTTPNotFound
        return web.FileResponse(path, headers={"Cache-Control": ASSET_CACHE})

    app.router.add_get("/", serve_index)
    app.router.add_get("/assets/{name}", serve_asset)
    app.middlewares.append(_client_routes(serve_index))


# What a browser asks for as a file; `/config/automation/edit/automation.heater` is a page.
FILE_SUFFIXES = frozenset(
    "css js mjs map json txt xml html htm ico png jpg jpeg gif svg webp avif woff woff2 ttf otf "
    "webmanifest wasm".split()
)


def _looks_like_a_file(path: str) -> bool:
    last = path.rsplit("/", 1)[-1]
    return "." in last and last.rsplit(".", 1)[-1].lower() in FILE_SUFFIXES


def _client_routes(serve: Handler) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Answer a GET that no route matched with the UI, so /history and the like survive a reload."""

    @web.middleware
    async def client_routes(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if (
                request.method not in ("GET", "HEAD")
                or request.path.startswith(API_PREFIXES)
                or request.path.startswith("/assets/")
                or _looks_like_a_file(request.path)  # a missing file, not a page
            ):
                raise
            return await serve(request)

    return client_routes


async def frontend_missing(request: web.Request) -> web.Response:
    """Say how to build the web UI instead of serving a blank page."""
    body = (
        "<!doctype html><html><head><meta charset=utf-8><title>Hub</title></head><body>"
        "<h1>The hub is running</h1><p>The web UI is not built in this checkout. Build it with "
        "<code>scripts/build-frontend</code> (needs Node.js 20+), then reload this page. The API "
        "answers at <a href=/api/>/api/</a> and <code>/api/websocket</code>.</p></body></html>"
    )
    return web.Response(text=body, content_type="text/html")
