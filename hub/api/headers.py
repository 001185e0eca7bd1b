"""Security headers on every response, and a `Server` header that names no versions.

The Content-Security-Policy allows only the hub's own scripts, images and sockets, and its own
and inline styles (the YAML editor injects its styles): the web UI needs nothing else (the
browser tests fail on any violation), and an injected script or a framing page gets nothing. `http: use_x_frame_options: false` (Home Assistant's key)
allows framing by other sites, for dashboards embedded elsewhere.
"""

from __future__ import annotations

from aiohttp import web

SERVER = "powerhub"
CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    # The YAML editor (CodeMirror) writes its styles into <style> elements at run time; styles
    # cannot run code, and scripts stay the hub's own files only.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
))
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000"


def add_security_headers(app: web.Application, *, frame_options: bool = True) -> None:
    """Put the security headers on every response of the app (errors and files included)."""
    policy = CSP + ("; frame-ancestors 'self'" if frame_options else "")

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers["Server"] = SERVER  # aiohttp would name itself and its version
        headers.setdefault("Content-Security-Policy", policy)
        for name, value in COMMON.items():
            headers.setdefault(name, value)
        if frame_options:
            headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if request.secure:
            headers.setdefault("Strict-Transport-Security", HSTS)

    app.on_response_prepare.append(on_prepare)
