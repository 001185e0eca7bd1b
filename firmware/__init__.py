"""Node firmware for ESP8266/ESP32 energy-meter nodes (PZEM-004T v3 + relays).

The modules are MicroPython code: no annotations, no dataclasses, no f-strings, only the small
standard library MicroPython ships. Under CPython the same modules run as the device simulator
(`python -m firmware.sim`), with `firmware.sim.shims` standing in for `machine`, `network` and
`umqtt.simple`.
"""

VERSION = "1.0.0"
