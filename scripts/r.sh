#!/usr/bin/env bash
# The R client's test against real stations (r/tests/run.R, then examples/notebook.R):
#
#   scripts/r.sh [TESSERA_BINARY]      # default: target/release/tessera (or $CARGO_TARGET_DIR's)
#
# Installs R with Debian's packages (r-base-core r-cran-jsonlite r-cran-survival) when it is
# absent and this is root; otherwise skips with a message (0 tests). Installs the package
# from r/ into a library under /tmp, prepares the demo's three stations (`tessera demo
# --prepare`), starts them as `tessera station serve` processes (always killed on exit),
# writes the researcher's profile naming them, and runs the test and the notebook (whose
# study the GP network's steward approves with the CLI). Ends with one line
# `r tests: N passed, M failed`; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { echo "r.sh: $*" >&2; }

bin=${1:-${CARGO_TARGET_DIR:-target}/release/tessera}
[ -x "$bin" ] || { say "no tessera binary at $bin"; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

have_r() {
    command -v Rscript >/dev/null 2>&1 &&
        Rscript -e 'quit(status = !all(c("jsonlite", "survival") %in% .packages(TRUE)))' \
            >/dev/null 2>&1
}
if ! have_r; then
    if [ "$(id -u)" != 0 ]; then
        say "R with jsonlite and survival is not installed and this is not root: skipping the R" \
            "client's test (apt-get install r-base-core r-cran-jsonlite r-cran-survival)"
        echo "r tests: 0 passed, 0 failed"
        exit 0
    fi
    say "installing Debian's R packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends r-base-core r-cran-jsonlite r-cran-survival >&2
    have_r || { say "R installed but jsonlite or survival not found"; exit 1; }
fi

lib=$(mktemp -d /tmp/tessera-r-lib.XXXXXX)
demo=$(mktemp -d /tmp/tessera-r-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$lib" "$demo"
}
trap cleanup EXIT

R CMD INSTALL -l "$lib" r/ >"$demo/install.log" 2>&1 ||
    { cat "$demo/install.log" >&2; say "R CMD INSTALL r/ failed"; exit 1; }
"$bin" demo --prepare --dir "$demo/stations" >/dev/null

# Start the stations; each prints `station NAME serving its API on https://ADDR
# (certificate sha256:FP, ...)` once it listens.
for s in registry gp institute; do
    "$bin" station serve --config "$demo/stations/$s/station.toml" \
        >"$demo/$s.out" 2>"$demo/$s.err" &
    pids+=($!)
done
profile=$demo/stations/researcher/profile.toml
{
    echo 'identity = "identity"'
    echo 'default = "registry"'
} >"$profile"
for s in registry gp institute; do
    for _ in $(seq 1 300); do
        grep -q "serving its API" "$demo/$s.out" && break
        sleep 0.1
    done
    line=$(grep "serving its API" "$demo/$s.out") ||
        { cat "$demo/$s.err" >&2; say "station $s did not start"; exit 1; }
    addr=$(sed -E 's|.*https://([^ ]+) .*|\1|' <<<"$line")
    pin=$(sed -E 's|.*certificate (sha256:[0-9a-f]{64}).*|\1|' <<<"$line")
    printf '\n[stations.%s]\nat = "%s"\npin = "%s"\n' "$s" "$addr" "$pin" >>"$profile"
done

export R_LIBS="$lib" TESSERA_BIN="$bin" TESSERA_PROFILE="$profile"
passed=0
failed=0
status=0
Rscript r/tests/run.R "$demo/stations" "$repo" 2>&1 | tee "$demo/run.log" || status=1
counts=$(grep -Eo '^r tests: [0-9]+ passed, [0-9]+ failed' "$demo/run.log" | tail -n 1 || true)
if [ -n "$counts" ]; then
    passed=$(awk '{print $3}' <<<"$counts")
    failed=$(awk '{print $5}' <<<"$counts")
else
    failed=1
fi

# The notebook submits the demo's study; the GP network's steward approves it once it waits.
(
    for _ in $(seq 1 600); do
        "$bin" station --config "$demo/stations/gp/station.toml" approve tessera-demo \
            --by "gp steward (r.sh)" >/dev/null 2>&1 && exit 0
        sleep 0.2
    done
    exit 1
) &
approver=$!
pids+=("$approver")
if Rscript examples/notebook.R "$demo/stations/researcher/study.toml" "$demo/km.pdf" \
    >"$demo/notebook.log" 2>&1 && grep -q "hazard ratios" "$demo/notebook.log" &&
    [ -s "$demo/km.pdf" ]; then
    cat "$demo/notebook.log"
    echo "ok     examples/notebook.R reproduces the demo's study"
    passed=$((passed + 1))
else
    cat "$demo/notebook.log"
    echo "FAILED examples/notebook.R"
    failed=$((failed + 1))
    status=1
fi
echo "r tests: $passed passed, $failed failed"
exit "$status"
