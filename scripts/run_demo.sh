#!/usr/bin/env bash
# Start a Celery worker (both queues, with the beat scheduler) and the web server; stop both on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo_env.sh
PORT="${DEMO_PORT:-8000}"
mkdir -p var/log
.venv/bin/celery -A annotate worker -Q default,gpu -B --pool solo -l INFO \
  --schedule var/celerybeat-schedule >var/log/worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
echo
echo "  Annotate is running at http://127.0.0.1:${PORT}/  (API docs: /api/docs/, admin: /admin/)"
echo "  Worker log: var/log/worker.log. The logins are printed above. Ctrl-C stops everything."
echo
.venv/bin/gunicorn annotate.wsgi -c python:annotate.gunicorn_conf --bind "127.0.0.1:${PORT}" --workers 2 --threads 4 --access-logfile -
