"""The node: join Wi-Fi and MQTT, announce itself, read the meter, obey relay commands, update itself.

`Node.step()` does a little work and returns; `run()` calls it forever on a device, the
simulator calls it for many nodes from one thread.
"""

from firmware import board, compat, settings, topics
from firmware.compat import MIN_VALID_EPOCH, epoch, json
from firmware.discovery import messages as discovery_messages
from firmware.ota import OtaReceiver, OtaRefused
from firmware.pzem import PZEM, PzemError
from firmware.relays import Relay, RelayBank
from firmware.ringbuf import RingBuffer

BACKOFF_MIN = 1.0
BACKOFF_MAX = 60.0


def _monotonic():
    return compat.ticks_ms() / 1000.0


def _jitter():
    try:
        import random

        return 0.5 + random.getrandbits(8) / 512.0  # MicroPython's random always has getrandbits
    except ImportError:
        return 1.0


class Node:
    """One energy-meter node.

    Args:
        config: validated settings (firmware.config.validate).
        root: the flash directory for persisted files ("" on a device).
        clock: a function returning monotonic seconds (tests pass a fake).
        wall: a function returning Unix seconds for reading timestamps.
    """

    def __init__(self, config, root="", clock=None, wall=None):
        self.root = root
        self.settings_path = compat.join(root, "settings.json")
        saved = settings.load(self.settings_path)
        self.applied = saved.pop("_applied", None)  # the id of the last config message applied
        config.update(saved)
        self.config = config
        self.node_id = config["node_id"]
        self.clock = clock or _monotonic
        self.wall = wall or epoch
        pzem = config["pzem"]
        self.meter = PZEM(board.make_uart(pzem), pzem.get("address", 0xF8), pzem.get("timeout_ms", 200))
        relays = [
            Relay(r["name"], board.make_pin(r["pin"]), r.get("inverted", False), r.get("label"), r.get("initial", False))
            for r in config["relays"]
        ]
        self.relays = RelayBank(relays, compat.join(root, "relays.json"))
        self.relays.restore()
        power_on = config.get("power_on_state", "restore")
        if power_on != "restore":
            for relay in self.relays.relays.values():
                relay.set(power_on == "on")
        self.buffer = RingBuffer(compat.join(root, "readings.bin"), config["buffer_size"])
        self.ota = OtaReceiver(config["ota_key"], compat.join(root, "ota.tmp"), root)
        self.wlan = board.make_wlan(config["wifi"])
        self.mqtt = board.make_mqtt(self.node_id, config["mqtt"])
        self.mqtt.set_callback(self._on_message)
        self.connected = False
        self.backoff = BACKOFF_MIN
        self.next_connect = 0.0
        self.next_reading = 0.0
        self.last_reading = None
        self.clock_synced = False
        self.published = 0  # messages sent, for the simulator's figures
        self._root = config["topic_root"]
        self._base = topics.base(self.node_id, self._root)
        self._set_prefix = self._base + "/"

    # -- main loop -------------------------------------------------------------------------
    def run(self):
        """Run forever (the device's main loop)."""
        while True:
            self.step()
            compat.sleep_ms(20)

    def step(self):
        """Do whatever is due now: (re)connect, handle messages, read the meter, replay the buffer."""
        now = self.clock()
        if self.connected and not self.wlan.isconnected():
            self._lost("Wi-Fi lost")
        if not self.connected and now >= self.next_connect and self.wlan.isconnected():
            self._connect(now)
        if self.connected:
            try:
                self.mqtt.check_msg()
            except OSError as err:
                self._lost(err)
        if now >= self.next_reading:
            self.next_reading = now + self.config["telemetry_interval"]
            self._read_and_send()
        if self.connected and len(self.buffer):
            self._replay_batch()

    # -- connection --------------------------------------------------------------------------
    def _connect(self, now):
        if not self.clock_synced:
            self.clock_synced = board.sync_clock() or self.wall() >= MIN_VALID_EPOCH
        mqtt = self.mqtt
        try:
            mqtt.set_last_will(topics.status(self.node_id, self._root), b"offline", retain=True, qos=1)
            mqtt.connect()
            mqtt.subscribe(self._base + "/+/set")
            mqtt.subscribe(topics.ota(self.node_id, "begin", self._root))
            mqtt.subscribe(topics.ota(self.node_id, "chunk", self._root))
            mqtt.subscribe(self.config["discovery_prefix"] + "/status")
            self.connected = True
            self._publish(topics.status(self.node_id, self._root), "online", retain=True, qos=1)
            self._announce()
        except OSError as err:
            self._lost(err)
            # Exponential backoff with jitter, so a broker restart is not met by every node at once.
            self.next_connect = now + self.backoff * _jitter()
            self.backoff = min(self.backoff * 2, BACKOFF_MAX)
            return
        self.backoff = BACKOFF_MIN
        compat.log("%s: connected" % self.node_id)

    def _lost(self, why):
        if self.connected:
            compat.log("%s: connection lost (%s)" % (self.node_id, why))
        self.connected = False
        # Close without DISCONNECT, so the broker publishes the last will ("offline").
        try:
            self.mqtt.sock.close()
        except Exception:  # never connected or already closed
            pass

    def _announce(self):
        for topic, payload in discovery_messages(self.config):
            self._publish(topic, payload, retain=True)
        for name in self.relays.relays:
            self._publish(topics.relay_state(self.node_id, name, self._root), self.relays.state(name), retain=True)
        self._publish(topics.config_state(self.node_id, self._root), settings.state(self.config, self.applied), retain=True)

    def _publish(self, topic, payload, retain=False, qos=0):
        self.mqtt.publish(topic, payload, retain, qos)
        self.published += 1

    # -- telemetry ---------------------------------------------------------------------------
    def _read_and_send(self):
        try:
            reading = self.meter.read()
        except PzemError as err:
            compat.log("%s: meter: %s" % (self.node_id, err))
            return
        ts = self.wall()
        reading["ts"] = ts
        self.last_reading = reading
        if self.connected:
            try:
                self._publish(topics.state(self.node_id, self._root), json.dumps(reading))
                return
            except OSError as err:
                self._lost(err)
        if ts >= MIN_VALID_EPOCH:  # a reading without a real time cannot be placed in history
            self.buffer.append(ts, reading)

    def _replay_batch(self):
        last, readings = self.buffer.pending(self.config["batch_size"])
        if readings:
            payload = json.dumps({"node_id": self.node_id, "readings": readings})
            try:
                self._publish(topics.telemetry(self.node_id, self._root), payload, qos=1)  # PUBACK before ack
            except OSError as err:
                self._lost(err)
                return
        self.buffer.ack(last)

    # -- commands ----------------------------------------------------------------------------
    def _on_message(self, topic, payload):
        topic = topic.decode() if isinstance(topic, bytes) else topic
        try:
            if topic == self.config["discovery_prefix"] + "/status":
                if payload == b"online":  # the hub restarted: announce again
                    self._announce()
            elif topic == topics.restart(self.node_id, self._root):
                compat.log("%s: restart requested" % self.node_id)
                board.reset()
            elif topic == topics.config_set(self.node_id, self._root):
                self._on_config(payload)
            elif topic.startswith(self._base + "/ota/"):
                self._on_ota(topic[len(self._base) + 5:], payload)
            elif topic.endswith("/set") and topic.startswith(self._set_prefix):
                self._on_relay(topic[len(self._set_prefix):-4], payload)
        except OSError as err:
            self._lost(err)

    def _on_relay(self, name, payload):
        try:
            state = self.relays.command(name, payload.decode())
        except (KeyError, ValueError, UnicodeError) as err:
            compat.log("%s: ignored command for %s: %s" % (self.node_id, name, err))
            return
        self._publish(topics.relay_state(self.node_id, name, self._root), state, retain=True)

    def _on_config(self, payload):
        """Apply a config message whole (or refuse it whole), keep it on flash, and echo the result."""
        try:
            message = json.loads(payload)
            wanted = message["values"]
            ident = message["id"]
            if not isinstance(wanted, dict):
                raise ValueError("values must be an object")
        except (ValueError, KeyError, TypeError) as err:
            compat.log("%s: ignored config message: %s" % (self.node_id, err))
            return
        if ident == self.applied:  # the retained message again after a reconnect
            return
        try:
            checked = {}
            for key, value in wanted.items():
                checked[key] = settings.check(key, value)
        except settings.SettingError as err:
            state = settings.state(self.config, self.applied, ident, str(err))
            self._publish(topics.config_state(self.node_id, self._root), state, retain=True)
            return
        self.config.update(checked)
        self.applied = ident
        settings.save(self.settings_path, self.config, ident)
        if "telemetry_interval" in checked:
            self.next_reading = min(self.next_reading, self.clock() + checked["telemetry_interval"])
        if "name" in checked:
            self._announce()  # the device block carries the name
        else:
            self._publish(topics.config_state(self.node_id, self._root), settings.state(self.config, ident), retain=True)

    def _on_ota(self, what, payload):
        status = topics.ota(self.node_id, "status", self._root)
        try:
            if what == "begin":
                meta = self.ota.begin(payload)
                self._publish(status, json.dumps({"state": "receiving", "size": self.ota.size}))
                installed = self.ota.fetch(meta["url"]) if meta.get("url") else None
            elif what == "chunk":
                installed = self.ota.chunk(payload)
            else:
                return
        except OtaRefused as err:
            compat.log("%s: OTA refused: %s" % (self.node_id, err))
            self._publish(status, json.dumps({"state": "refused", "reason": str(err)}))
            return
        except OSError as err:  # download failed
            self.ota.abort()
            self._publish(status, json.dumps({"state": "refused", "reason": "download failed: %s" % err}))
            return
        if installed:
            self._publish(status, json.dumps({"state": "installed", "files": installed}))
            board.reset()
