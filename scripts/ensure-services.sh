#!/usr/bin/env bash
# Make sure the local PostgreSQL and Redis answer; start them if they have stopped.
# Exits non-zero when either stays unreachable: in CI that is a failure, never a skip.
set -euo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  cluster=$(ls /etc/postgresql 2>/dev/null | head -1 || true)
  [ -n "$cluster" ] && pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is unreachable on 127.0.0.1:5432" >&2; exit 1; }
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is unreachable on 127.0.0.1:6379" >&2; exit 1; }
