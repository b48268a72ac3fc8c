#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser on these machines).
set -euo pipefail
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: Chromium is missing; install Debian's package as root: apt-get install chromium" >&2
    exit 1
fi
echo "Installing Debian's chromium package for the browser tests."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
