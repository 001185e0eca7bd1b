"""Signed over-the-air updates: an image is installed only if its HMAC-SHA256 matches.

The image is a bundle of files (see `pack`/`unpack`), streamed to flash while its MAC is
computed, so a node needs no RAM for the whole image. It arrives as MQTT chunks on
`[<topic_root>]devices/<node_id>/ota/chunk` (4-byte big-endian offset + data) after a JSON `begin` message
{"size": n, "hmac": "<64 hex>"} on `.../ota/begin`, or is fetched over HTTP when
`begin` carries a "url". Nothing is unpacked until the whole image checked out.
"""

import struct

from firmware.compat import hexlify, json, os, remove, unhexlify
from firmware.hmac_sha256 import HMAC, equal

MAX_IMAGE = 1024 * 1024
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/"


class OtaRefused(Exception):
    """The image was refused (unsigned, wrongly signed, malformed); the message says why."""


def pack(files):
    """Return a bundle image from [(name, bytes)] (2-byte name length, name, 4-byte size, data)."""
    out = b""
    for name, data in files:
        encoded = name.encode()
        out += struct.pack(">H", len(encoded)) + encoded + struct.pack(">I", len(data)) + data
    return out


def unpack(image):
    """Return [(name, bytes)] from a bundle image; raise OtaRefused when it is malformed."""
    files = []
    pos = 0
    while pos < len(image):
        if pos + 2 > len(image):
            raise OtaRefused("truncated bundle")
        (name_len,) = struct.unpack(">H", image[pos:pos + 2])
        name = image[pos + 2:pos + 2 + name_len].decode()
        pos += 2 + name_len
        if pos + 4 > len(image):
            raise OtaRefused("truncated bundle")
        (size,) = struct.unpack(">I", image[pos:pos + 4])
        pos += 4
        if pos + size > len(image):
            raise OtaRefused("truncated file %s" % name)
        _check_name(name)
        files.append((name, image[pos:pos + size]))
        pos += size
    return files


def _check_name(name):
    if not name or name[0] == "/" or ".." in name or any(c not in _NAME_CHARS for c in name):
        raise OtaRefused("bad file name %r in bundle" % name)


class OtaReceiver:
    """Receive, verify and install one image at a time.

    Args:
        key: the device's OTA key (bytes, at least 16); None disables updates.
        staging: where the image is written while it arrives.
        install_root: the directory the bundle's files are written to.
    """

    def __init__(self, key, staging, install_root):
        self.key = key
        self.staging = staging
        self.install_root = install_root
        self._reset()

    def _reset(self):
        self.size = 0
        self.received = 0
        self.expected = None
        self.mac = None
        self.file = None

    @property
    def active(self):
        """Return True while an image is being received."""
        return self.file is not None

    def begin(self, payload):
        """Start an update from a `begin` message; raise OtaRefused when it cannot be signed."""
        self.abort()
        if not self.key:
            raise OtaRefused("updates are disabled: no ota_key configured")
        try:
            meta = json.loads(payload)
            size = int(meta["size"])
        except (ValueError, KeyError, TypeError):
            raise OtaRefused("begin must be JSON with size and hmac")
        signature = meta.get("hmac") if isinstance(meta, dict) else None
        if not signature:
            raise OtaRefused("unsigned image")
        try:
            expected = unhexlify(signature)
        except ValueError:
            raise OtaRefused("hmac is not hex")
        if len(expected) != 32:
            raise OtaRefused("hmac must be 32 bytes (64 hex digits)")
        if not 0 < size <= MAX_IMAGE:
            raise OtaRefused("size must be 1..%d bytes" % MAX_IMAGE)
        self.size = size
        self.expected = expected
        self.mac = HMAC(self.key)
        self.file = open(self.staging, "wb")
        return meta

    def chunk(self, payload):
        """Add one chunk (offset + data); return the installed file names once the image is complete.

        Raises:
            OtaRefused: no update in progress, a chunk out of order, too much data or a bad signature.
        """
        if self.file is None:
            raise OtaRefused("chunk without begin")
        if len(payload) < 4:
            self.abort()
            raise OtaRefused("chunk shorter than its offset")
        (offset,) = struct.unpack(">I", payload[:4])
        if offset != self.received:
            self.abort()
            raise OtaRefused("chunk at %d, expected %d" % (offset, self.received))
        return self.feed(payload[4:])

    def feed(self, data):
        """Add raw image bytes; return the installed file names once the image is complete."""
        if self.received + len(data) > self.size:
            self.abort()
            raise OtaRefused("more data than the announced size")
        self.file.write(data)
        self.mac.update(data)
        self.received += len(data)
        if self.received < self.size:
            return None
        return self._finish()

    def _finish(self):
        self.file.close()
        self.file = None
        if not equal(self.mac.digest(), self.expected):
            remove(self.staging)
            self._reset()
            raise OtaRefused("bad signature")
        with open(self.staging, "rb") as f:
            image = f.read()
        remove(self.staging)
        self._reset()
        files = unpack(image)
        names = []
        # Write everything beside the old files first, then swap: a failed write changes nothing.
        for name, data in files:
            path = self._path(name)
            _makedirs(path)
            with open(path + ".new", "wb") as f:
                f.write(data)
            names.append(name)
        for name in names:
            path = self._path(name)
            remove(path)
            os.rename(path + ".new", path)
        return names

    def abort(self):
        """Drop a half-received image."""
        if self.file is not None:
            self.file.close()
            remove(self.staging)
        self._reset()

    def _path(self, name):
        root = self.install_root.rstrip("/")
        return (root + "/" + name) if root else name

    def fetch(self, url, sock_factory=None):
        """Download the announced image over HTTP and feed it; return the installed names."""
        import socket

        if not url.startswith("http://"):
            self.abort()
            raise OtaRefused("only http:// URLs are supported (the signature protects the image)")
        host, _, path = url[7:].partition("/")
        host, _, port = host.partition(":")
        addr = socket.getaddrinfo(host, int(port or 80))[0][-1]
        sock = (sock_factory or socket.socket)()
        try:
            sock.connect(addr)
            sock.send(("GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                part = sock.recv(256)
                if not part:
                    raise OtaRefused("connection closed in the HTTP header")
                head += part
            head, _, body = head.partition(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n")[0]:
                raise OtaRefused("download failed: %s" % head.split(b"\r\n")[0].decode())
            result = self.feed(body) if body else None
            while result is None:
                part = sock.recv(1024)
                if not part:
                    raise OtaRefused("download ended at %d of %d bytes" % (self.received, self.size))
                result = self.feed(part)
            return result
        except OtaRefused:
            self.abort()
            raise
        finally:
            sock.close()


def _makedirs(path):
    index = path.find("/", 1)
    while index > 0:
        try:
            os.mkdir(path[:index])
        except OSError:  # exists already
            pass
        index = path.find("/", index + 1)


def sign(key, image):
    """Return the hex HMAC-SHA256 of image (what the signing tool puts into `begin`)."""
    return hexlify(HMAC(key, image).digest())
