#!/bin/sh
# Start Mosquitto with the dynamic-security plugin; at the first start, create its file with the
# hub's own account (MQTT_USERNAME / MQTT_PASSWORD). Later starts keep the file: the devices'
# accounts live there. To change the hub's password, change it in .env and run
#   docker compose exec mosquitto mosquitto_ctrl -u <user> -P <old> dynsec setClientPassword <user> <new>
set -eu
CONFIG="${MOSQUITTO_CONFIG:-/mosquitto/config/mosquitto.conf}"
FILE="${DYNSEC_FILE:-/mosquitto/data/dynamic-security.json}"
: "${MQTT_USERNAME:?set MQTT_USERNAME in .env: the hub's account on the broker}"
: "${MQTT_PASSWORD:?set MQTT_PASSWORD in .env}"
if [ ! -e "$FILE" ]; then
    umask 077
    mosquitto_ctrl dynsec init "$FILE" "$MQTT_USERNAME" "$MQTT_PASSWORD" >/dev/null
    if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
        chown mosquitto:mosquitto "$FILE"
    fi
    echo "mosquitto-init: created $FILE with the hub's account $MQTT_USERNAME" >&2
fi
exec mosquitto -c "$CONFIG"
