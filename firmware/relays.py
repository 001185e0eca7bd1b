"""Relays on GPIO pins whose state survives a reboot (kept in a small JSON file on flash)."""

from firmware.compat import json

ON = "ON"
OFF = "OFF"


class Relay:
    """One relay output.

    Args:
        name: the relay's id in topics (`[<topic_root>]devices/<node_id>/<name>/set`).
        pin: a machine.Pin configured as output.
        inverted: True for active-low modules (most optocoupler boards switch on at 0).
    """

    def __init__(self, name, pin, inverted=False, label=None, initial=False):
        self.name = name
        self.pin = pin
        self.inverted = inverted
        self.label = label or name
        self.initial = initial  # state on the very first boot, before anything was saved

    def set(self, on):
        """Drive the output."""
        self.pin.value(1 if bool(on) != self.inverted else 0)

    def is_on(self):
        """Return what the pin really drives (read back, so a stuck output is reported as it is)."""
        return bool(self.pin.value()) != self.inverted


class RelayBank:
    """The node's relays with their persisted states.

    Args:
        relays: Relay objects.
        path: the JSON file holding {name: true/false}.
    """

    def __init__(self, relays, path):
        self.relays = {}
        for relay in relays:
            self.relays[relay.name] = relay
        self.path = path

    def restore(self):
        """Put every relay back into its last saved state (its `initial` state when none is saved)."""
        saved = self._load()
        for name, relay in self.relays.items():
            relay.set(bool(saved.get(name, relay.initial)))

    def command(self, name, payload):
        """Apply an ON/OFF/TOGGLE command; return the relay's state afterwards ("ON"/"OFF").

        Raises:
            KeyError: no relay has this name.
            ValueError: the payload is not ON, OFF or TOGGLE.
        """
        relay = self.relays[name]
        word = payload.strip().upper()
        if word == "TOGGLE":
            target = not relay.is_on()
        elif word in (ON, "1", "TRUE"):
            target = True
        elif word in (OFF, "0", "FALSE"):
            target = False
        else:
            raise ValueError("relay command must be ON, OFF or TOGGLE, got %r" % payload)
        relay.set(target)
        self._save()
        return self.state(name)

    def state(self, name):
        """Return "ON" or "OFF" as read back from the pin."""
        return ON if self.relays[name].is_on() else OFF

    def _load(self):
        try:
            with open(self.path) as f:
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):  # first boot or a torn file: all off is the safe default
            return {}

    def _save(self):
        data = {}
        for name, relay in self.relays.items():
            data[name] = relay.is_on()
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        # rename is atomic on LittleFS and FAT, so a power cut leaves the old or the new file
        from firmware.compat import os

        os.rename(tmp, self.path)
