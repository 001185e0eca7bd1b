"""HTTPS for the hub's web server: `http: ssl_certificate` and `ssl_key` (Home Assistant's keys).

When both are set the hub serves HTTPS only; when either file cannot be read or does not hold a
certificate and its key, the hub refuses to start and says which file and why, instead of
falling back to plain HTTP.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from hub.exceptions import HubError

# Mozilla's "modern" and "intermediate" profiles, as far as Python's ssl module can say them:
# TLS 1.2 at least, forward-secret AEAD ciphers only for "modern".
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"


class TlsConfigError(HubError):
    """The certificate or key of `http:` cannot be used."""


def server_context(http: dict[str, Any], config_dir: Path | None = None) -> ssl.SSLContext | None:
    """Return the TLS context for the web server, None when `http:` asks for plain HTTP.

    Relative paths are taken from the configuration directory.

    Raises:
        TlsConfigError: a file is missing, unreadable, or not a matching certificate and key.
    """
    certificate, key = http.get("ssl_certificate"), http.get("ssl_key")
    if certificate is None and key is None:
        return None
    if certificate is None or key is None:
        message = "http: ssl_certificate and ssl_key go together: set both to serve HTTPS"
        raise TlsConfigError(message)
    cert_path, key_path = _path(certificate, config_dir), _path(key, config_dir)
    for name, path in (("ssl_certificate", cert_path), ("ssl_key", key_path)):
        try:
            with open(path, "rb"):
                pass
        except OSError as err:
            message = f"http: {name}: cannot read {path} ({err.strerror}); the hub does not start without it"
            raise TlsConfigError(message) from err
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    if http.get("ssl_profile", "modern") == "modern":
        context.set_ciphers(MODERN_CIPHERS)
    try:
        context.load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, ValueError) as err:
        message = (f"http: ssl_certificate {cert_path} and ssl_key {key_path} are not a PEM certificate and "
                   f"its private key ({err}); the hub does not start without them")
        raise TlsConfigError(message) from err
    peer = http.get("ssl_peer_certificate")
    if peer is not None:
        peer_path = _path(peer, config_dir)
        try:
            context.load_verify_locations(peer_path)
        except (OSError, ssl.SSLError) as err:
            message = f"http: ssl_peer_certificate: cannot use {peer_path} ({err})"
            raise TlsConfigError(message) from err
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _path(value: str, config_dir: Path | None) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or config_dir is None else config_dir / path
