#!/usr/bin/env bash
# Headless Chromium for the dashboard test (tests/occupancy/test_dashboard.py): Debian's
# `chromium` package. Needs root (apt); does nothing when chromium is already installed.
# The test skips, saying so, on machines without it.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(chromium --version 2>/dev/null || echo installed)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
chromium --version
