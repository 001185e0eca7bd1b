"""Relay what the embedded Mosquitto says about refused clients to the hub's log.

Mosquitto writes to `mqtt_broker/mosquitto.log`. Debian's Mosquitto (2.0.11) logs a refused
login as `Client <unknown> disconnected, not authorised.` right after the `New connection from
ADDRESS:PORT on port N.` line of that connection: it keeps the CONNECT's client id and username
to itself until the login succeeded, and neither its dynamic-security plugin, any `log_type` nor
the plugin's control topic says more. Newer Mosquitto releases log
`Client ID [ADDRESS:PORT] disconnected: not authorised.` instead.

The hub's log gets one warning per refusal with what is known: the address and port, the reason,
the client id when Mosquitto names it, and otherwise the client id and username last accepted
from that address (`New client connected from ADDRESS:PORT as ID (..., u'USER').`), saying so:
a device whose account was revoked, or whose password changed, is named by its last login. The
hub's accounts tell a revoked or unknown account from a wrong password.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

_LOGGER = logging.getLogger("integrations.mqtt.broker")

POLL = 1.0
REMEMBERED = 1024  # addresses whose last login is kept
_NEW = re.compile(r"New connection from (\S+) on port (\d+)")
_ACCEPTED = re.compile(r"New client connected from (\S+) as (\S+) \(([^)]*)\)")
_USER = re.compile(r"u'([^']*)'")
_REFUSED = re.compile(r"Client (\S+) (?:\[(\S+)\] )?disconnected[,:] not authori[sz]ed")
_TLS = re.compile(r"OpenSSL Error.*")
HELP = "see docs/devices.md, Troubleshooting"


def _host(address: str) -> str:
    """Return the address without its port (`192.168.1.23:50312` -> `192.168.1.23`, IPv6 too)."""
    host, sep, port = address.rpartition(":")
    return host.strip("[]") if sep and port.isdigit() else address


class RefusalRelay:
    """Follow the broker's log file from its current end and log each refused connection.

    Args:
        path: Mosquitto's log file.
        account_exists: tells whether the broker has an account of this username now (the hub's
            and the devices'); without it, no reason beyond "not authorised" is given.
        own_usernames: accounts that are the hub's own (never named as a device's last login).
    """

    def __init__(self, path: Path, account_exists: Callable[[str], bool] | None = None,
                 own_usernames: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        # ADDRESS:PORT -> listener port of connections not yet accepted, the latest last (a port
        # probe or scanner that never sends CONNECT stays here until pushed out).
        self.pending: OrderedDict[str, str] = OrderedDict()
        self.last_login: OrderedDict[str, tuple[str, str | None]] = OrderedDict()  # host -> (client id, username)
        self.account_exists = account_exists
        self.own_usernames = own_usernames
        self.refused = 0
        self.lines: list[str] = []  # the last 20 warnings

    def feed(self, text: str) -> None:
        """Handle new lines of the log."""
        for line in text.splitlines():
            if match := _NEW.search(line):
                self.pending[match.group(1)] = match.group(2)
                if len(self.pending) > REMEMBERED:
                    self.pending.popitem(last=False)
            elif match := _ACCEPTED.search(line):
                address, client_id = match.group(1), match.group(2)
                self.pending.pop(address, None)
                user = _USER.search(match.group(3))
                username = user.group(1) if user else None
                if username not in self.own_usernames:
                    self._remember(_host(address), client_id, username)
            elif match := _REFUSED.search(line):
                self._refused(match.group(1), match.group(2))
            elif match := _TLS.search(line):
                _LOGGER.warning("The MQTT broker refused a TLS connection: %s (a device with the wrong port or "
                                "an old certificate fingerprint?)", match.group(0))

    def _remember(self, host: str, client_id: str, username: str | None) -> None:
        self.last_login[host] = (client_id, username)
        self.last_login.move_to_end(host)
        while len(self.last_login) > REMEMBERED:
            self.last_login.popitem(last=False)

    def _refused(self, named: str, address: str | None) -> None:
        self.refused += 1
        if address is None and self.pending:
            # Mosquitto answers a CONNECT as it arrives, right after the connection opened: the
            # latest connection not yet accepted is the refused one.
            address = next(reversed(self.pending))
        listener = self.pending.pop(address, None) if address is not None else None
        where = (address or "an unknown address") + (f" (port {listener})" if listener else "")
        last = self.last_login.get(_host(address)) if address is not None else None
        username: str | None = None
        if named != "<unknown>":  # newer Mosquitto names the client, not its username
            who = f"client {named}"
            if last is not None and last[0] == named:
                username = last[1]
                who += f" (last accepted from this address with username {username or '(none)'})"
            elif self.account_exists is not None and self.account_exists(named):
                username = named  # our devices log in with their node id as client id and username
        elif last is not None:
            username = last[1]
            who = (f"a client (Mosquitto does not name refused clients; last accepted from this address as "
                   f"client {last[0]}, username {username or '(none)'})")
        else:
            who = "a client (Mosquitto does not name refused clients)"
        line = f"The MQTT broker refused {who} from {where}: not authorised, {self._reason(username)} ({HELP})"
        self.lines = [*self.lines[-19:], line]
        _LOGGER.warning("%s", line)

    def _reason(self, username: str | None) -> str:
        if username is None or self.account_exists is None:
            return "no such account, a wrong password or no credentials"
        if self.account_exists(username):
            return f"a wrong password for account {username!r}"
        return f"account {username!r} does not exist (never added, or removed)"

    def poll(self) -> None:
        """Read what the log gained since the last poll."""
        try:
            size = self.path.stat().st_size
            if size < self.offset:  # rotated or truncated
                self.offset = 0
            if size == self.offset:
                return
            with self.path.open("rb") as log:
                log.seek(self.offset)
                data = log.read(size - self.offset)
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # only whole lines
        self.offset += end
        self.feed(data[:end].decode(errors="replace"))

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(POLL)
            self.poll()
