"""The embedded broker's TLS: a CA and a broker certificate made on the first LAN start.

Both live in `<data>/mqtt_broker/tls/` (keys 0600). A user's own files replace them:
`mqtt: embedded: {certificate, key, ca_certificate}`. Devices get the SHA-256 fingerprints of
the CA and of the broker certificate: our firmware pins the broker certificate's fingerprint
(a microcontroller sees only the certificate the broker sends), other devices check the CA.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.exceptions import HubError
from hub.storage.private_files import write_private

VALID_DAYS = 3650


@dataclass(slots=True)
class TlsFiles:
    """The files the broker serves TLS with, and the fingerprints devices check."""

    ca: Path
    certificate: Path
    key: Path
    ca_fingerprint: str
    fingerprint: str


def fingerprint(pem: bytes) -> str:
    """Return the SHA-256 fingerprint of a PEM certificate as colon-separated hex."""
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", socket.gethostname(), f"{socket.gethostname()}.local", *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def create(directory: Path, hosts: list[str]) -> None:
    """Make a CA and a broker certificate for these host names and addresses."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"powerhub CA {socket.gethostname()}")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname())]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(directory / "ca.key", _pem_key(ca_key))
    write_private(directory / "ca.crt", ca.public_bytes(serialization.Encoding.PEM))
    write_private(directory / "broker.key", _pem_key(key))
    write_private(directory / "broker.crt", cert.public_bytes(serialization.Encoding.PEM))


def ensure(directory: Path, hosts: list[str], own: dict[str, str] | None = None) -> TlsFiles:
    """Return the broker's TLS files: the user's own when given, else ours (made when missing).

    Raises:
        HubError: a file of the user's cannot be read or is not a PEM certificate.
    """
    if own:
        paths = {k: Path(own[k]) for k in ("ca_certificate", "certificate", "key")}
    else:
        if not (directory / "broker.crt").exists():
            create(directory, hosts)
        paths = {"ca_certificate": directory / "ca.crt", "certificate": directory / "broker.crt", "key": directory / "broker.key"}
    try:
        ca_fp = fingerprint(paths["ca_certificate"].read_bytes())
        cert_fp = fingerprint(paths["certificate"].read_bytes())
        paths["key"].read_bytes()
    except (OSError, ValueError) as err:
        message = f"mqtt.embedded TLS files: {err}"
        raise HubError(message) from err
    return TlsFiles(paths["ca_certificate"], paths["certificate"], paths["key"], ca_fp, cert_fp)
