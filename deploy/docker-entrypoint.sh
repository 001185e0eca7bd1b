#!/bin/sh
# Seed an empty /config with the container configuration, then run the command (hub run ...).
set -eu
if [ ! -e /config/configuration.yaml ]; then
    echo "hub-entrypoint: /config is empty; writing the container configuration from /app/deploy/config" >&2
    cp -R /app/deploy/config/. /config/
fi
exec "$@"
