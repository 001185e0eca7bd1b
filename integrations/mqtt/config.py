"""The `mqtt:` section of configuration.yaml."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import voluptuous as vol

from integrations.mqtt import topic_root
from integrations.mqtt.client import DEFAULT_BACKEND, ConnectionSettings, PublishMessage
from integrations.mqtt.schemas import boolean, publish_topic

DEFAULT_PREFIX = "homeassistant"
DEFAULT_STATUS_TOPIC = "homeassistant/status"


def _message(default_payload: str) -> Any:
    return vol.Schema(
        {
            vol.Optional("topic", default=DEFAULT_STATUS_TOPIC): publish_topic,
            vol.Optional("payload", default=default_payload): str,
            vol.Optional("qos", default=0): vol.All(vol.Coerce(int), vol.In([0, 1, 2])),
            vol.Optional("retain", default=False): boolean,
        }
    )


def _topic_root(value: Any) -> str:
    try:
        return topic_root.check(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from err


def _broker_url(value: Any) -> str:
    text = str(value)
    if "://" not in text:
        text = f"mqtt://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        message = f"expected mqtt://host[:port] or mqtts://host[:port], got {value!r}"
        raise vol.Invalid(message)
    return text


SECTION_SCHEMA = vol.Schema(
    {
        vol.Optional("broker"): _broker_url,
        vol.Optional("port"): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
        vol.Optional("username"): str,
        vol.Optional("password"): str,
        vol.Optional("client_id"): str,
        vol.Optional("keepalive", default=60): vol.All(vol.Coerce(int), vol.Range(min=15)),
        vol.Optional("certificate"): str,
        vol.Optional("client_cert"): str,
        vol.Optional("client_key"): str,
        vol.Optional("tls_insecure", default=False): boolean,
        vol.Optional("discovery", default=True): boolean,
        vol.Optional("discovery_prefix", default=DEFAULT_PREFIX): vol.All(str, vol.Length(min=1)),
        # What every device topic hangs under ("home1/": `home1/devices/<id>/...`); see topic_root.py.
        vol.Optional("topic_root", default=""): _topic_root,
        vol.Optional("birth_message", default={}): vol.Any(None, _message("online")),
        vol.Optional("will_message", default={}): vol.Any(None, _message("offline")),
        vol.Optional("embedded", default={}): vol.Schema(
            {
                vol.Optional("port", default=1883): vol.All(vol.Coerce(int), vol.Range(min=0, max=65535)),
                vol.Optional("engine", default="auto"): vol.In(["auto", "mosquitto", "amqtt"]),
                # 127.0.0.1: this machine only, anonymous. A LAN address or 0.0.0.0: every
                # client needs an account (`hub device add`), MQTT over TLS on tls_port too.
                vol.Optional("bind", default="127.0.0.1"): vol.All(str, vol.Length(min=1)),
                vol.Optional("tls_port", default=8883): vol.All(vol.Coerce(int), vol.Range(min=0, max=65535)),
                vol.Optional("allow_anonymous"): boolean,
                # What devices are told to connect to (default: this machine's LAN address).
                vol.Optional("host"): vol.All(str, vol.Length(min=1)),
                # Your own certificate for the TLS listener, instead of the one the hub makes.
                vol.Inclusive("certificate", "own_tls"): str,
                vol.Inclusive("key", "own_tls"): str,
                vol.Inclusive("ca_certificate", "own_tls"): str,
            }
        ),
        # Your own Mosquitto with its dynamic-security plugin (e.g. deploy/, docker-compose.yml): the
        # hub's account (username, password above) administers it, and devices added to the hub get
        # accounts there. host/port: what devices are told to connect to.
        vol.Optional("provisioning"): vol.Schema({
            vol.Required("host"): vol.All(str, vol.Length(min=1)),
            vol.Optional("port"): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
        }),
        vol.Optional("reconnect_max_delay", default=60.0): vol.All(vol.Coerce(float), vol.Range(min=0.1)),
        # Which library speaks MQTT; both behave the same, gmqtt receives several times faster.
        vol.Optional("client", default=DEFAULT_BACKEND): vol.In(["gmqtt", "paho"]),
    }
)


def _none_is_empty(value: Any) -> Any:
    return {} if value is None else value


CONFIG_SCHEMA = vol.All(_none_is_empty, SECTION_SCHEMA)


def connection_settings(config: dict[str, Any], broker_url: str, data_dir: Path | None) -> ConnectionSettings:
    """Build the client's settings from the validated section and the broker URL to use."""
    parts = urlsplit(broker_url)
    tls = parts.scheme == "mqtts"
    port = config.get("port") or parts.port or (8883 if tls else 1883)
    # A fixed client id keeps the broker-side session (QoS 1 queue) across restarts.
    client_id = config.get("client_id") or "powerhub-" + hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    birth = config.get("birth_message")
    will = config.get("will_message")
    return ConnectionSettings(
        host=parts.hostname or "127.0.0.1",
        port=port,
        tls=tls,
        username=config.get("username") or (unquote(parts.username) if parts.username else None),
        password=config.get("password") or (unquote(parts.password) if parts.password else None),
        client_id=client_id,
        keepalive=config["keepalive"],
        ca_certs=config.get("certificate"),
        certfile=config.get("client_cert"),
        keyfile=config.get("client_key"),
        tls_insecure=config["tls_insecure"],
        birth=PublishMessage(**birth) if birth else None,
        will=PublishMessage(**will) if will else None,
        reconnect_max=config["reconnect_max_delay"],
        backend=config["client"],
    )
