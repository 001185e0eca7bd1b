"""HTTP: security headers everywhere, no versions in Server, TLS when asked (or no start), no 500."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import bootstrap
from hub.exceptions import HubError
from tests.hubs import write_config

from .conftest import Api

HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def check_headers(response: aiohttp.ClientResponse) -> None:
    for name in HEADERS:
        assert name in response.headers, (response.url, response.status, name)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    server = response.headers.get("Server", "")
    assert "aiohttp" not in server and "Python" not in server and not any(c.isdigit() for c in server), server


async def test_every_response_has_the_security_headers(api: Api) -> None:
    owner = api.headers("owner")
    requests: list[tuple[str, str, dict[str, str], Any]] = [
        ("GET", "/", {}, None),                       # the web UI (or the page saying how to build it)
        ("GET", "/history", {}, None),                # a client route
        ("GET", "/assets/none.js", {}, None),         # 404 of a file
        ("GET", "/api/", owner, None),
        ("GET", "/api/", {}, None),                   # 401
        ("GET", "/api/states/sensor.nothing", owner, None),  # 404 of the API
        ("POST", "/api/states/sensor.x", api.headers("user"), None),  # refused
        ("POST", "/api/services/x/y", owner, b"{"),   # 400
        ("GET", "/healthz", {}, None),
        ("PUT", "/api/", owner, None),                # 405
    ]
    for method, path, headers, body in requests:
        async with api.session.request(method, f"{api.url}{path}", headers=headers, data=body) as response:
            check_headers(response)
    async with api.session.ws_connect(f"{api.url}/api/websocket") as ws:
        await ws.receive()


MALFORMED: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
    ("GET", "/assets/" + "a" * 5000, {}, None, 404),
    ("GET", "/assets/a%00b.js", {}, None, 404),
    ("GET", "/assets/..%2F..%2F..%2Fetc%2Fpasswd", {}, None, 404),
    ("POST", "/auth/token", {"Content-Type": "multipart/form-data"}, b"grant_type=refresh_token", 400),
    ("POST", "/auth/token", {"Content-Type": "multipart/form-data; boundary=x"}, b"garbage", 400),
    ("POST", "/api/services/light/turn_on", {"Content-Type": "application/json"}, b"\xff\xfe{\"a\": 1}", 400),
    ("POST", "/api/states/sensor.x", {"Content-Type": "text/plain"}, b"\xc3\x28", 400),
    ("POST", "/api/events/x", {}, "{\"a\": \"\udcff\"}".encode("utf-8", "surrogatepass"), 400),
    ("POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, b"\x00" * 100, 400),
    ("GET", "/api/states/%ZZ", {}, None, 404),
    ("POST", "/api/v1/auth/refresh", {"Content-Type": "application/json"}, b"[" * 100_000, 400),
    ("GET", "/api/websocket", {}, None, 400),  # no upgrade
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "expected"), MALFORMED)
async def test_malformed_requests_are_client_errors(api: Api, caplog: Any, method: str, path: str,
                                                    headers: dict[str, str], body: bytes | None, expected: int) -> None:
    headers = {**api.headers("owner"), **headers} if "Authorization" not in headers and "X-API-Key" not in headers else headers
    async with api.session.request(method, f"{api.url}{path}", headers=headers, data=body) as response:
        assert response.status == expected, (path, await response.text())
        check_headers(response)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: Any) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


async def test_tls_is_served_when_configured(tmp_path: Path, start_hub: Any, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    config = write_config(tmp_path / "config", f"http:\n  ssl_certificate: {cert}\n  ssl_key: {key}\n")
    runtime = await start_hub(config, tmp_path / "data")
    assert runtime.url.startswith("https://")
    trusted = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{runtime.url}/api/", ssl=trusted) as response:
            assert response.status == 401
            check_headers(response)
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        # Plain HTTP on the same port gets no answer from the API.
        plain = runtime.url.replace("https://", "http://")
        with pytest.raises(aiohttp.ClientError):
            async with session.get(f"{plain}/api/") as response:
                await response.read()


@pytest.mark.parametrize("broken", ["missing", "not_pem", "wrong_key"])
async def test_unreadable_certificates_stop_the_start(tmp_path: Path, certificate: tuple[Path, Path], broken: str) -> None:
    cert, key = certificate
    if broken == "missing":
        cert = tmp_path / "nowhere.pem"
    elif broken == "not_pem":
        cert = tmp_path / "junk.pem"
        cert.write_text("not a certificate")
    else:
        other = tmp_path / "other.key"
        subprocess.run(["openssl", "genrsa", "-out", str(other), "2048"], check=True, capture_output=True, timeout=60)
        key = other
    config = write_config(tmp_path / "config", f"http:\n  ssl_certificate: {cert}\n  ssl_key: {key}\n")
    with pytest.raises(HubError, match="ssl_certificate"):
        await bootstrap.start(config, tmp_path / "data", port=0)
    # Nothing was started: not even the data dir was made.
    assert not (tmp_path / "data").exists()
