#!/usr/bin/env bash
# Runs every test of the workspace. Needs only the Rust toolchain; anything else the tests
# need is installed and started from here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --workspace "$@"
