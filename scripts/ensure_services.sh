#!/usr/bin/env bash
# Start the local PostgreSQL and Redis that the tests use, when they are not running already; install the tools
# tests/test_multihost.py needs to give workers hosts of their own (iproute2's `ip`, socat).
set -euo pipefail
if [ "$(id -u)" = "0" ] && { ! command -v socat >/dev/null || ! command -v ip >/dev/null; }; then
  echo "installing socat and iproute2 (apt)"
  apt-get install -y -q socat iproute2 >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q socat iproute2 >/dev/null; }
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
