#!/bin/sh
# Debian's Chromium for the browser tests of `jegal serve` (tests/serve/test_browser.py drives
# /usr/bin/chromium with Playwright; Playwright's own browser download is not used).
#
# Installs the `chromium` package with apt-get only when /usr/bin/chromium is missing and apt-get
# can be used (as root, or with sudo that needs no password); otherwise says why the browser tests
# will be skipped. Never fails: the rest of the test suite does not need a browser.
set -u
CHROMIUM=/usr/bin/chromium
say() { echo "ensure_chromium: $*" >&2; }

[ -x "$CHROMIUM" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    say "no $CHROMIUM and no apt-get here: the browser tests of jegal serve will be skipped"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    say "no $CHROMIUM, and apt-get needs root (sudo apt-get install -y chromium): the browser tests of jegal serve will be skipped"
    exit 0
fi
say "installing Debian's chromium for the browser tests of jegal serve (apt-get install -y chromium)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null 2>&1; }
if [ -x "$CHROMIUM" ]; then
    say "installed: $("$CHROMIUM" --version 2>/dev/null)"
else
    say "apt-get could not install chromium (no network or no such package?): the browser tests of jegal serve will be skipped"
fi
exit 0
