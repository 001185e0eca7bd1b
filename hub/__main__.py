"""Run the hub command: python -m hub."""

import sys

from hub.cli import main

sys.exit(main())
