"""CRC-16/Modbus (poly 0xA001 reflected, init 0xFFFF), sent low byte first."""

_TABLE = []
for _i in range(256):
    _crc = _i
    for _ in range(8):
        _crc = (_crc >> 1) ^ 0xA001 if _crc & 1 else _crc >> 1
    _TABLE.append(_crc)


def crc16(data, crc=0xFFFF):
    """Return the CRC-16/Modbus of data (bytes or bytearray)."""
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def append_crc(frame):
    """Return frame followed by its CRC, low byte first (Modbus byte order)."""
    crc = crc16(frame)
    return bytes(frame) + bytes((crc & 0xFF, crc >> 8))


def check_crc(frame):
    """Return True when the last two bytes of frame are the CRC of the rest."""
    if len(frame) < 3:
        return False
    crc = crc16(frame[:-2])
    return frame[-2] == (crc & 0xFF) and frame[-1] == (crc >> 8)
