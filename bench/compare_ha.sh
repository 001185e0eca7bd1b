#!/usr/bin/env bash
# The hub and Home Assistant through the same black-box scenario (bench/blackbox.py), in one run.
#
#   bench/compare_ha.sh                       # Home Assistant 2024.1.6 in /tmp/havenv (made if missing)
#   HA_VENV=~/havenv HA_VERSION=2024.3.3 bench/compare_ha.sh --rates 1000 2000 --seconds 5
#
# Home Assistant runs from its own venv (its pins conflict with ours) with --skip-pip, so the
# requirements of the integrations the scenario loads (mqtt, recorder and their dependencies)
# are installed here once. Extra arguments go to bench/blackbox.py. Runs alternate hub, HA, hub,
# HA (--repeat 2) so both see the same machine; compare them as ratios.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${HA_VENV:-/tmp/havenv}"
version="${HA_VERSION:-2024.1.6}"
if [ ! -x "$venv/bin/hass" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "homeassistant==$version"
fi
# The requirements of the integrations the scenario loads, from their manifests.
requirements=$("$venv/bin/python" - <<'PY'
import json, pathlib, homeassistant.components as c
root = pathlib.Path(c.__path__[0])
wanted = {"mqtt", "recorder", "file_upload", "http", "api", "auth", "websocket_api", "sensor"}
print(" ".join(sorted({r for d in wanted for r in json.loads((root / d / "manifest.json").read_text()).get("requirements", [])})))
PY
)
# shellcheck disable=SC2086
"$venv/bin/pip" install -q $requirements
exec .venv/bin/python bench/blackbox.py --both --ha "$venv" --repeat 2 "$@"
