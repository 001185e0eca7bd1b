"""OTA images are installed only with a valid HMAC-SHA256 from the device's key."""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from pathlib import Path

import pytest

from firmware.hmac_sha256 import hmac_sha256
from firmware.ota import OtaReceiver, OtaRefused, pack, sign, unpack

KEY = bytes(range(32))


def receiver(tmp_path: Path) -> OtaReceiver:
    return OtaReceiver(KEY, str(tmp_path / "ota.tmp"), str(tmp_path))


def chunks(image: bytes, size: int = 100) -> list[bytes]:
    return [struct.pack(">I", o) + image[o:o + size] for o in range(0, len(image), size)]


def test_hmac_matches_the_standard_library() -> None:
    for key in (b"k", KEY, b"x" * 100):
        for data in (b"", b"abc", bytes(1000)):
            assert hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()


def test_signed_image_is_installed(tmp_path: Path) -> None:
    image = pack([("firmware/node.py", b"print('v2')\n"), ("VERSION", b"1.1.0")])
    ota = receiver(tmp_path)
    ota.begin(json.dumps({"size": len(image), "hmac": sign(KEY, image)}))
    installed = None
    for chunk in chunks(image, 7):
        installed = ota.chunk(chunk)
    assert installed == ["firmware/node.py", "VERSION"]
    assert (tmp_path / "firmware" / "node.py").read_bytes() == b"print('v2')\n"
    assert not (tmp_path / "ota.tmp").exists()


@pytest.mark.parametrize(
    ("begin", "reason"),
    [
        ({"size": 10}, "unsigned"),
        ({"size": 10, "hmac": ""}, "unsigned"),
        ({"size": 10, "hmac": "zz"}, "not hex"),
        ({"size": 10, "hmac": "ab" * 16}, "32 bytes"),
        ({"size": 0, "hmac": "ab" * 32}, "size"),
    ],
)
def test_begin_without_a_usable_signature_is_refused(tmp_path: Path, begin: dict[str, object], reason: str) -> None:
    with pytest.raises(OtaRefused, match=reason):
        receiver(tmp_path).begin(json.dumps(begin))


def test_wrongly_signed_image_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("old")
    image = pack([("main.py", b"evil")])
    ota = receiver(tmp_path)
    ota.begin(json.dumps({"size": len(image), "hmac": sign(b"another device's key!", image)}))
    with pytest.raises(OtaRefused, match="bad signature"):
        for chunk in chunks(image):
            ota.chunk(chunk)
    assert (tmp_path / "main.py").read_text() == "old"
    assert not (tmp_path / "ota.tmp").exists()


def test_tampered_image_is_refused(tmp_path: Path) -> None:
    image = pack([("main.py", b"good")])
    signature = sign(KEY, image)
    ota = receiver(tmp_path)
    ota.begin(json.dumps({"size": len(image), "hmac": signature}))
    with pytest.raises(OtaRefused, match="bad signature"):
        ota.chunk(struct.pack(">I", 0) + image[:-1] + b"!")


def test_out_of_order_or_oversized_chunks_abort(tmp_path: Path) -> None:
    image = pack([("main.py", b"x" * 300)])
    ota = receiver(tmp_path)
    ota.begin(json.dumps({"size": len(image), "hmac": sign(KEY, image)}))
    with pytest.raises(OtaRefused, match="expected 0"):
        ota.chunk(chunks(image)[1])
    assert not ota.active
    with pytest.raises(OtaRefused, match="without begin"):
        ota.chunk(chunks(image)[0])
    ota.begin(json.dumps({"size": 4, "hmac": sign(KEY, image)}))
    with pytest.raises(OtaRefused, match="more data"):
        ota.chunk(chunks(image)[0])


def test_no_key_means_no_updates(tmp_path: Path) -> None:
    with pytest.raises(OtaRefused, match="disabled"):
        OtaReceiver(None, str(tmp_path / "t"), str(tmp_path)).begin(json.dumps({"size": 1, "hmac": "00" * 32}))


def test_bundle_rejects_paths_outside_the_device(tmp_path: Path) -> None:
    assert unpack(pack([("a.py", b"1")])) == [("a.py", b"1")]
    for name in ("../boot.py", "/main.py", "a b.py"):
        with pytest.raises(OtaRefused, match="bad file name"):
            unpack(pack([(name, b"1")]))
