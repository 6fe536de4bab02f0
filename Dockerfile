# Image for operators (docker-compose.yml). Models come from packages, never from a hub.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CALLSEAL_VAR_DIR=/var/lib/callseal \
    CALLSEAL_SECRETS_DIR=/var/lib/callseal-secrets
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng sox libpq5 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Data and secrets apart, both private to the service user (docs/adr/0012).
RUN useradd --system --home /app callseal \
 && mkdir -p /var/lib/callseal /var/lib/callseal-secrets \
 && chown callseal /var/lib/callseal /var/lib/callseal-secrets \
 && chmod 700 /var/lib/callseal /var/lib/callseal-secrets
USER callseal
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "callseal.asgi:application"]
