# syntax=docker/dockerfile:1
# The gateway image: uvicorn serving gateway.asgi on port 8088. The same image runs the Celery
# worker and beat (see docker-compose.yml). Build: docker build -t ai-gateway .

FROM python:3.11-slim AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libmariadb-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /venv
COPY requirements.txt /tmp/requirements.txt
RUN /venv/bin/pip install --no-cache-dir --upgrade pip \
 && /venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt


FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/gateway gateway \
 && mkdir -p /data \
 && chown gateway:gateway /data

ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    PORT=8088

COPY --from=builder /venv /venv
WORKDIR /app
COPY . /app
# Static files for the admin, served by WhiteNoise. Settings load in embedded mode here (no
# DATABASE_URL), so the throwaway data directory only holds keys generated for this one command.
RUN GATEWAY_DATA_DIR=/tmp/build-data python manage.py collectstatic --noinput -v 0 \
 && rm -rf /tmp/build-data \
 && chmod +x scripts/*.sh

USER gateway
EXPOSE 8088
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8088/health', timeout=4)"]
CMD ["scripts/serve.sh"]
