# The hub in one image: the web UI built in a Node stage, the hub on python:3.11-slim, run as
# an unprivileged user, with its configuration in /config and its data in /data.
#
#   docker build -t powerhub .
#   docker run -p 8123:8123 -v ./config:/config -v hub-data:/data powerhub
#
# The image listens on 0.0.0.0:8123; /healthz is its health check, /readyz its readiness.

FROM node:20-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim
ARG PG_CLIENT=16
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# pg_dump/pg_restore for `hub backup` with PostgreSQL must be at least the server's major version,
# so the client comes from the PostgreSQL project's repository rather than Debian's older one.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common ca-certificates \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT}" \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 1000 hub \
 && useradd --system --uid 1000 --gid hub --home-dir /data --shell /usr/sbin/nologin hub \
 && mkdir -p /config /data \
 && chown hub:hub /config /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub hub
COPY integrations integrations
COPY automations automations
COPY firmware firmware
COPY blueprints blueprints
COPY --from=frontend /src/frontend/dist frontend/dist
# Installed in place: the hub serves the web UI from frontend/dist beside its package.
# Bytecode compiled here: PYTHONDONTWRITEBYTECODE (and a read-only /app) would otherwise have
# every start compile the hub's ~150 modules from source (~0.5 CPU s, bench/startup.py).
RUN pip install -e /app && python -c "import hub, prometheus_client, asyncpg" \
 && python -m compileall -q /app/hub /app/integrations /app/automations
# An empty /config volume is seeded with deploy/config (settings from the environment).
COPY deploy/config /app/deploy/config
COPY deploy/docker-entrypoint.sh /usr/local/bin/hub-entrypoint
USER hub
VOLUME ["/config", "/data"]
EXPOSE 8123
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8123/healthz', timeout=4)"]
ENTRYPOINT ["hub-entrypoint"]
CMD ["hub", "run", "-c", "/config", "--data", "/data", "--host", "0.0.0.0"]
