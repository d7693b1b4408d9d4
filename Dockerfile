# parcelbot as a container: docker build -t parcelbot . (README: "Run it as a service").
# The image runs the same `parcelbot` command as a virtual-environment install, as a non-root
# user, with the SQLite database on the /data volume. Installs are pinned by requirements.lock.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 parcelbot \
 && useradd --system --uid 10001 --gid parcelbot --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin parcelbot \
 && mkdir -p /data \
 && chown parcelbot:parcelbot /data

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY bots ./bots
COPY core ./core
COPY storage ./storage
COPY locales ./locales
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c requirements.lock . \
 && rm -rf build

ENV PATH=/opt/venv/bin:$PATH \
    PARCELBOT_DB=/data/parcelbot.sqlite3 \
    PARCELBOT_HEALTH_HOST=0.0.0.0 \
    PARCELBOT_HEALTH_PORT=8081 \
    PARCELBOT_WEBHOOK_HOST=0.0.0.0 \
    PARCELBOT_LOG_FORMAT=json \
    PARCELBOT_LOG_LEVEL=INFO

USER parcelbot
WORKDIR /data
VOLUME ["/data"]
# 8081: /health, /ready, /metrics (keep private). 8080: provider pushes when
# PARCELBOT_WEBHOOK_PORT=8080 is set (put an HTTPS reverse proxy in front).
EXPOSE 8081 8080

# Liveness: the process answers. Readiness (/ready) is for dashboards and load balancers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/health', timeout=4)"]

# SIGTERM stops the bot cleanly: adapters close, queued alerts stay in the database.
STOPSIGNAL SIGTERM
CMD ["parcelbot", "run"]
