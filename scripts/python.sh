#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest) against three real `tessera station
# serve` processes. Makes a venv under the cargo target dir, installs the pinned test
# requirements (python/requirements-test.txt) and the package (`pip install ./python`,
# built by maturin with the same CARGO_TARGET_DIR, so the Rust crates' release builds are
# reused), and runs pytest with the release `tessera` binary on PATH. Exits with pytest's
# status; pytest's summary line is the last line printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -p tessera-cli
venv="$CARGO_TARGET_DIR/python-venv"
# Python 3 with venv and pip (Debian's packages, installed when absent and this is root).
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "python.sh: python3 with venv is not installed and this is not root:" \
            "apt-get install python3 python3-venv python3-pip" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip >&2
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# The venv's tools (maturin, which pip calls to build the package) first on PATH, and the
# release `tessera` the tests start the stations with.
export PATH="$venv/bin:$CARGO_TARGET_DIR/release:$PATH"
pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
pip install --quiet --disable-pip-version-check --no-build-isolation ./python
MPLBACKEND=Agg python -m pytest python/tests -q -p no:cacheprovider "$@"
