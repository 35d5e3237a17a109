#!/usr/bin/env bash
# The browser app's API types, generated from the OpenAPI schema (the contract; see README "API").
#   scripts/api_client.sh generate          write frontend/src/api/schema.d.ts (only when it changed)
#   scripts/api_client.sh check [FILE]      fail when FILE (default: that file) differs from a fresh generation
# The schema is produced offline by `manage.py spectacular` (no server, no database connection) under a fixed
# environment: the types must not depend on who runs it. PostgreSQL is named because production runs on it
# (integer limits in the schema come from the database backend); it is never connected to.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENT=frontend/src/api/schema.d.ts
PY=${PY:-.venv/bin/python}
GENERATOR=frontend/node_modules/.bin/openapi-typescript

generate_into() {  # $1: the file to write
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" LANG=C.UTF-8 \
    DJANGO_SETTINGS_MODULE=annotate.settings DATABASE_URL=postgres://schema@127.0.0.1:1/schema \
    "$PY" manage.py spectacular --format openapi-json --file "$work/schema.json" --validate --fail-on-warn
  "$GENERATOR" "$work/schema.json" --output "$work/schema.d.ts" >/dev/null
  cp "$work/schema.d.ts" "$1"
}

if [ ! -x "$GENERATOR" ]; then
  echo "api_client: $GENERATOR is missing; run 'cd frontend && npm ci' (or 'make frontend')" >&2
  exit 2
fi

case "${1:-}" in
  generate)
    fresh=$(mktemp)
    generate_into "$fresh"
    if ! cmp -s "$fresh" "$CLIENT"; then cat "$fresh" >"$CLIENT" && echo "api_client: wrote $CLIENT"; fi
    rm -f "$fresh"
    ;;
  check)
    target=${2:-$CLIENT}
    fresh=$(mktemp)
    generate_into "$fresh"
    if ! cmp -s "$fresh" "$target"; then
      diff -u --label "$target (committed)" --label "$target (from the schema now)" "$target" "$fresh" | head -40 >&2 || true
      rm -f "$fresh"
      echo "api_client: $target is stale: the API schema changed. Run 'make api-client' and commit $CLIENT." >&2
      exit 1
    fi
    rm -f "$fresh"
    echo "api_client: $target matches the schema"
    ;;
  *)
    echo "usage: $0 generate | check [FILE]" >&2
    exit 2
    ;;
esac
