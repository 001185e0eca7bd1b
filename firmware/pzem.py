"""PZEM-004T v3.0 energy meter over Modbus-RTU (9600 8N1) on a UART.

Input registers (function 0x04), 10 registers from 0x0000:
    0 voltage 0.1 V | 1-2 current 0.001 A (32 bit, low word first) | 3-4 power 0.1 W (32 bit)
    5-6 energy 1 Wh (32 bit) | 7 frequency 0.1 Hz | 8 power factor 0.01 | 9 alarm (0xFFFF = on)
Holding registers (0x03 read, 0x06 write): 1 power alarm threshold (1 W), 2 slave address.
Energy reset: function 0x42. Errors come back with the function code | 0x80 and an error code.
"""

from firmware.compat import sleep_ms, ticks_diff, ticks_ms
from firmware.crc16 import append_crc, check_crc

GENERAL_ADDRESS = 0xF8  # every PZEM answers it; only use with one meter on the bus
READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
RESET_ENERGY = 0x42
REG_ALARM_THRESHOLD = 0x0001
REG_ADDRESS = 0x0002

ERRORS = {1: "illegal function", 2: "illegal address", 3: "illegal data", 4: "slave error"}


class PzemError(Exception):
    """The meter did not answer correctly (timeout, CRC error, Modbus exception)."""


class PzemTimeout(PzemError):
    """No complete reply within the timeout."""


class PzemCrcError(PzemError):
    """A reply arrived with a wrong CRC (noise on the line, or two meters answering)."""


def read_request(address=GENERAL_ADDRESS, start=0, count=10, function=READ_INPUT):
    """Return the frame that reads count registers from start."""
    return append_crc(bytes((address, function, start >> 8, start & 0xFF, count >> 8, count & 0xFF)))


def reset_request(address=GENERAL_ADDRESS):
    """Return the frame that resets the energy counter."""
    return append_crc(bytes((address, RESET_ENERGY)))


def write_request(address, register, value):
    """Return the frame that writes one holding register."""
    return append_crc(bytes((address, WRITE_SINGLE, register >> 8, register & 0xFF, value >> 8, value & 0xFF)))


def decode_measurements(data):
    """Return the readings dict from the 20 data bytes of a 10-register reply."""
    regs = [(data[i] << 8) | data[i + 1] for i in range(0, 20, 2)]
    return {
        "voltage": regs[0] / 10.0,
        "current": (regs[1] | (regs[2] << 16)) / 1000.0,
        "power": (regs[3] | (regs[4] << 16)) / 10.0,
        "energy": (regs[5] | (regs[6] << 16)) / 1000.0,  # Wh on the wire, kWh for the hub
        "frequency": regs[7] / 10.0,
        "power_factor": regs[8] / 100.0,
        "alarm": regs[9] == 0xFFFF,
    }


class PZEM:
    """One PZEM-004T v3 on a UART (machine.UART(…, baudrate=9600)).

    Args:
        uart: an object with write(bytes), read(n) and any() like machine.UART.
        address: the meter's Modbus address (1-247, or 0xF8 for "whoever is there").
        timeout_ms: how long to wait for a complete reply.
        retries: extra attempts after a timeout or a CRC error.
    """

    def __init__(self, uart, address=GENERAL_ADDRESS, timeout_ms=200, retries=2):
        self.uart = uart
        self.address = address
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.errors = 0  # failed exchanges since boot, published as a diagnostic

    def read(self):
        """Return a dict: voltage V, current A, power W, energy kWh, frequency Hz, power_factor, alarm."""
        reply = self._exchange(read_request(self.address), 25, READ_INPUT)
        if reply[2] != 20:
            raise PzemError("unexpected byte count %d" % reply[2])
        return decode_measurements(reply[3:23])

    def reset_energy(self):
        """Set the meter's energy counter to zero."""
        self._exchange(reset_request(self.address), 4, RESET_ENERGY)

    def set_address(self, new_address):
        """Give the meter a new Modbus address (1-247); it answers on it from now on."""
        if not 1 <= new_address <= 247:
            raise ValueError("address must be 1-247")
        self._exchange(write_request(self.address, REG_ADDRESS, new_address), 8, WRITE_SINGLE)
        self.address = new_address

    def read_alarm_threshold(self):
        """Return the power alarm threshold in W."""
        reply = self._exchange(read_request(self.address, REG_ALARM_THRESHOLD, 1, READ_HOLDING), 7, READ_HOLDING)
        return (reply[3] << 8) | reply[4]

    def _exchange(self, request, reply_len, function):
        last = None
        for _ in range(self.retries + 1):
            try:
                return self._once(request, reply_len, function)
            except (PzemTimeout, PzemCrcError) as err:  # line noise: worth another try
                last = err
                self.errors += 1
        raise last

    def _once(self, request, reply_len, function):
        uart = self.uart
        while uart.any():  # drop the tail of an earlier, garbled reply
            uart.read()
        uart.write(request)
        buf = b""
        deadline = ticks_ms() + self.timeout_ms
        need = reply_len
        while True:
            chunk = uart.read(need - len(buf)) if uart.any() else None
            if chunk:
                buf += chunk
                # An exception reply is 5 bytes: address, function | 0x80, code, CRC.
                if len(buf) >= 2 and buf[1] == (function | 0x80):
                    need = 5
                    if len(buf) >= 5:
                        self._check(buf[:5])
                        self.errors += 1
                        raise PzemError("meter error %d (%s)" % (buf[2], ERRORS.get(buf[2], "unknown")))
                elif len(buf) >= reply_len:
                    self._check(buf[:reply_len])
                    if buf[1] != function:
                        raise PzemCrcError("reply for function %d, expected %d" % (buf[1], function))
                    return buf[:reply_len]
            elif ticks_diff(deadline, ticks_ms()) <= 0:
                raise PzemTimeout("no reply from PZEM at address %d (%d of %d bytes)" % (self.address, len(buf), reply_len))
            else:
                sleep_ms(2)

    def _check(self, frame):
        if not check_crc(frame):
            raise PzemCrcError("CRC error in reply")
