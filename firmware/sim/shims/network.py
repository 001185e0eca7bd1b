"""`network` for the simulator: a station interface that is connected unless a fault says not."""

from __future__ import annotations

from firmware.sim import board as _board

STA_IF = 0
AP_IF = 1


class WLAN:
    def __init__(self, interface: int = STA_IF) -> None:
        self.board = _board.current()

    def active(self, on: bool | None = None) -> bool:
        return True

    def connect(self, ssid: str = "", password: str = "") -> None:
        return None

    def isconnected(self) -> bool:
        return self.board.online

    def ifconfig(self) -> tuple[str, str, str, str]:
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
