#!/usr/bin/env bash
# Headless Chromium for the console test (tests/test_console.py): Debian's
# `chromium` package, installed system-wide by apt because no Chromium build may be
# downloaded at run time here. Never prompts: as root it runs apt-get; otherwise only a
# password-less `sudo -n`; failing both it prints one line saying what to run and exits 1.
# Does nothing when chromium is already installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(chromium --version 2>/dev/null || echo installed)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "chromium is not installed and this user cannot install it without a password: run 'sudo apt-get install chromium' once" >&2
  exit 1
fi
"${SUDO[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
chromium --version
