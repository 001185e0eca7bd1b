"""TLS to the broker, pinned: the node accepts only the certificate whose SHA-256 fingerprint
is in its config.json (`mqtt.fingerprint`, given by the hub's Add device page).

A microcontroller cannot keep a CA store current, and sees only the certificate the broker
sends; so it compares that certificate's fingerprint, right after the TLS handshake and before
it sends its username and password. A broker with another certificate is refused.
"""

from firmware.compat import binascii, hashlib


def normalize(fingerprint):
    """Return a fingerprint as lowercase hex without colons."""
    return fingerprint.replace(":", "").replace(" ", "").lower()


def check(der, fingerprint):
    """Raise OSError unless the DER certificate has this SHA-256 fingerprint."""
    seen = binascii.hexlify(hashlib.sha256(der or b"").digest()).decode()
    if not der or seen != normalize(fingerprint):
        raise OSError("TLS: the broker's certificate (sha256 %s) is not the one in config.json (%s)" % (seen, normalize(fingerprint)))


class Context:
    """What umqtt.simple takes as `ssl`: wraps the socket, then checks the fingerprint."""

    def __init__(self, fingerprint):
        import ssl

        self.fingerprint = fingerprint
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if hasattr(self._context, "check_hostname"):
            self._context.check_hostname = False  # the fingerprint identifies the broker
        self._context.verify_mode = ssl.CERT_NONE

    def wrap_socket(self, sock, server_hostname=None):
        """Return the TLS socket once the broker's certificate matched."""
        wrapped = self._context.wrap_socket(sock, server_hostname=server_hostname)
        check(wrapped.getpeercert(True), self.fingerprint)
        return wrapped
