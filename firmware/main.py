"""Device entry point: MicroPython runs main.py after boot."""

from firmware import compat
from firmware.config import ConfigError, load
from firmware.node import Node


def main(path="config.json"):
    """Load the settings and run the node forever."""
    try:
        config = load(path)
    except ConfigError as err:
        compat.log("config error: %s" % err)
        raise
    Node(config).run()


if __name__ == "__main__":  # copied to the flash root as /main.py
    main()
