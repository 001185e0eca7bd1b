"""Each compatibility module refuses, at import, a library version that lacks an internal the client uses."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import aiomqtt
import gmqtt
import paho.mqtt
import pytest
from gmqtt.mqtt.handler import MqttPackageHandler
from paho.mqtt.client import Client as PahoClient

from hub.exceptions import HubError
from integrations.mqtt.compat import UnsupportedLibraryError, has_member


def import_fresh(name: str) -> ModuleType:
    """Run a module's code again as an import would, leaving the loaded module alone."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("library", ["gmqtt", "paho", "aiomqtt"])
def test_the_installed_versions_are_supported(library: str) -> None:
    assert import_fresh(f"integrations.mqtt.compat_{library}").VERSION != "unknown"


def test_gmqtt_without_its_publish_handler_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gmqtt, "__version__", "0.9.1")
    monkeypatch.delattr(MqttPackageHandler, "_handle_publish_packet")
    expected = (
        "gmqtt 0.9.1 is not supported: gmqtt.mqtt.handler.MqttPackageHandler has no _handle_publish_packet; "
        "supported: 0.8.x"
    )
    with pytest.raises(UnsupportedLibraryError) as error:
        import_fresh("integrations.mqtt.compat_gmqtt")
    assert str(error.value) == expected
    assert isinstance(error.value, HubError)  # the hub's start stops with this message


def test_paho_whose_client_keeps_no_socket_attribute_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def __init__(self: PahoClient, *args: object, **kwargs: object) -> None:
        self.socket = None

    monkeypatch.setattr(PahoClient, "__init__", __init__)
    with pytest.raises(UnsupportedLibraryError, match=rf"^paho-mqtt {paho.mqtt.__version__} is not supported: .*Client has no _sock; supported: 2.x$"):
        import_fresh("integrations.mqtt.compat_paho")


def test_aiomqtt_without_its_message_callback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(aiomqtt.Client, "_on_message")
    with pytest.raises(UnsupportedLibraryError, match=r"^aiomqtt .* is not supported: aiomqtt\.client\.Client has no _on_message; supported: 2.x$"):
        import_fresh("integrations.mqtt.compat_aiomqtt")


def test_instance_attributes_are_read_from_the_constructor() -> None:
    class Library:
        def __init__(self) -> None:
            self._sock = None

    assert has_member(Library, "_sock")
    assert has_member(Library, "__init__")
    assert not has_member(Library, "_socket")
