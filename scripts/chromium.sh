#!/usr/bin/env bash
# Headless Chromium for the HTML report's tests (crates/study/tests/report.rs), which open
# the report, take a screenshot and read the parsed page back.
#
#   eval "$(scripts/chromium.sh)"   # prints `export TESSERA_CHROMIUM=…` for eval
#
# Idempotent: a chromium already on PATH (or at TESSERA_CHROMIUM) is used; otherwise Debian's
# chromium package is installed with apt-get (as root, non-interactively). Progress goes to
# stderr; only the export line goes to stdout.
set -euo pipefail

say() { echo "chromium.sh: $*" >&2; }

find_bin() {
    local c
    for c in "${TESSERA_CHROMIUM:-}" chromium chromium-browser google-chrome; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1; then
            command -v "$c"
            return
        fi
    done
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
    if [ "$(id -u)" != 0 ]; then
        say "Chromium is not installed and this is not root: apt-get install chromium"
        exit 1
    fi
    say "installing Debian's chromium package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2
    bin=$(find_bin || true)
    [ -n "$bin" ] || { say "chromium installed but not found on PATH"; exit 1; }
fi
say "using $bin ($("$bin" --version 2>/dev/null | head -n 1 || echo "version unknown"))"
echo "export TESSERA_CHROMIUM='$bin'"
