#!/usr/bin/env bash
# Issue 23's table for the hub and Home Assistant, interleaved, in one run: bench/table.py --ha.
#
#   bench/compare_ha.sh                          # every scenario, both systems (about 30 minutes)
#   bench/compare_ha.sh --quick                  # a smoke run of the whole comparison (a few minutes)
#   bench/compare_ha.sh --only ingest --rates 1000 2000 --repeat 1
#   bench/compare_ha.sh --install-only           # make (or check) the Home Assistant venv and stop
#   HA_VERSION=2024.3.3 HA_VENV=/srv/havenv bench/compare_ha.sh
#
# Home Assistant runs from its own venv (its pins conflict with ours), cached outside the repository
# in ${XDG_CACHE_HOME:-~/.cache}/powerhub-bench/homeassistant-<version> and reused when present. It
# starts with --skip-pip, so the requirements of the integrations the scenarios load (mqtt,
# recorder, history and their dependencies) are installed here once, from their manifests.
# Other arguments go to bench/table.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
version="${HA_VERSION:-2024.1.6}"
venv="${HA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/powerhub-bench/homeassistant-$version}"
python="${HA_PYTHON:-python3}"
install_only=0
if [ "${1:-}" = "--install-only" ]; then install_only=1; shift; fi

if [ ! -x "$venv/bin/hass" ]; then
  echo "installing Home Assistant $version into $venv (once; later runs reuse it)"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q "homeassistant==$version"
fi
if [ ! -f "$venv/.bench-ready" ]; then
  # The requirements of the integrations the scenarios load, from their manifests.
  requirements=$("$venv/bin/python" - <<'PY'
import json, pathlib, homeassistant.components as c
root = pathlib.Path(c.__path__[0])
wanted = {"mqtt", "recorder", "history", "file_upload", "http", "api", "auth", "websocket_api", "sensor"}
print(" ".join(sorted({r for d in wanted for r in json.loads((root / d / "manifest.json").read_text()).get("requirements", [])})))
PY
)
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $requirements
  touch "$venv/.bench-ready"
fi
installed=$("$venv/bin/python" -c 'from homeassistant.const import __version__; print(__version__)')
if [ "$installed" != "$version" ]; then
  echo "$venv holds Home Assistant $installed, not $version: remove it or set HA_VENV" >&2
  exit 1
fi
echo "Home Assistant $installed in $venv"
if [ "$install_only" = 1 ]; then exit 0; fi
exec .venv/bin/python bench/table.py --ha "$venv" "$@"
