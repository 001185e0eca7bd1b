"""Build the node's hardware from its settings: UART for the meter, relay pins, Wi-Fi, MQTT client.

These are the only places that import `machine`, `network` and `umqtt`, so the simulator can
stand in for them.
"""


def make_uart(pzem):
    """Return the UART wired to the PZEM-004T (9600 8N1)."""
    from machine import UART, Pin

    uart_id = pzem.get("uart", 2)
    if uart_id == 0:
        # ESP8266: UART0 is also the REPL; detach it, then GPIO15/13 select the swapped pins.
        import os

        if hasattr(os, "dupterm"):
            os.dupterm(None, 1)
        return UART(0, baudrate=9600, tx=Pin(pzem.get("tx", 15)), rx=Pin(pzem.get("rx", 13)), timeout=50)
    return UART(uart_id, baudrate=9600, tx=pzem.get("tx", 17), rx=pzem.get("rx", 16), timeout=50)


def make_pin(number):
    """Return an output pin."""
    from machine import Pin

    return Pin(number, Pin.OUT)


def make_wlan(wifi):
    """Return the station interface, started and asked to join the configured network."""
    import network

    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wifi.get("ssid") and not wlan.isconnected():
        wlan.connect(wifi["ssid"], wifi.get("password", ""))
    return wlan


def make_mqtt(node_id, mqtt):
    """Return an umqtt.simple client (not yet connected); with `fingerprint`, over pinned TLS.

    Its client id is `mqtt.client_id` when config.json gives one, else the node id."""
    from umqtt.simple import MQTTClient

    secure = mqtt.get("ssl", False)
    if mqtt.get("fingerprint"):
        from firmware.pinning import Context

        secure = Context(mqtt["fingerprint"])
    return MQTTClient(
        mqtt.get("client_id") or node_id,  # a client id of its own on a broker shared by many homes
        mqtt["host"],
        port=mqtt.get("port", 1883),
        user=mqtt.get("user"),
        password=mqtt.get("password"),
        keepalive=mqtt.get("keepalive", 30),
        ssl=secure,
    )


def reset():
    """Reboot the board (never returns on a device)."""
    import machine

    machine.reset()


def sync_clock():
    """Set the wall clock from NTP; return False when that failed."""
    try:
        import ntptime

        ntptime.settime()
        return True
    except Exception:  # no ntptime (simulator) or no answer: readings keep going, unbuffered
        return False
