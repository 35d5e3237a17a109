#!/usr/bin/env bash
# Install Debian's Chromium for the end-to-end tests and bench/ui.py, unless it is there already.
# (Playwright drives this binary; `playwright install` is never run.)
set -euo pipefail
CHROMIUM="${ANNOTATE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then exit 0; fi
echo "installing chromium (apt)"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
[ -x "$CHROMIUM" ] || { echo "chromium did not install at $CHROMIUM" >&2; exit 1; }
