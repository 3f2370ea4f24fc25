#!/usr/bin/env bash
# Runs every test of the workspace (all of them, also after a failing one) and ends with one
# summary line ("N passed, N failed").
# Needs only the Rust toolchain; anything else the tests need (PostgreSQL, Chromium, R for
# the R client's test, scripts/r.sh) is installed and started here.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
# The PostgreSQL test server of crates/sources (installed with apt-get if absent, run as the
# postgres user); its settings (TESSERA_TEST_PG_URL, TESSERA_TEST_PG_CA) are exported for the
# tests, and it is stopped on exit. Its own folder, so that runs side by side do not meet.
TESSERA_PG_DIR=$(mktemp -d /tmp/tessera-pg.XXXXXX)
export TESSERA_PG_DIR
pg_env=$(scripts/postgres.sh start)
eval "$pg_env"
trap 'rm -f "$log"; scripts/postgres.sh stop || true' EXIT
# Headless Chromium for the HTML report's tests (installed with apt-get if absent); its path
# is exported as TESSERA_CHROMIUM. Those tests fail under CI without it.
chromium_env=$(scripts/chromium.sh)
eval "$chromium_env"
status=0
cargo test --release --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')
# The R client (r/) against real stations, with the release binary the tests built (R is
# installed with apt-get if absent and this is root, else the test is skipped with a message).
bin="${CARGO_TARGET_DIR:-target}/release/tessera"
if [ -x "$bin" ]; then
    scripts/r.sh "$bin" 2>&1 | tee "$log" || status=1
    r_counts=$(grep -Eo '^r tests: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    if [ -n "$r_counts" ]; then
        passed=$((passed + $(awk '{print $3}' <<<"$r_counts")))
        failed=$((failed + $(awk '{print $5}' <<<"$r_counts")))
    else
        failed=$((failed + 1))
    fi
else
    echo "no release tessera binary at $bin: the R client's test did not run"
    failed=$((failed + 1))
    status=1
fi
# The Python package against real stations (scripts/python.sh; pytest's counts are added).
pylog=$(mktemp)
trap 'rm -f "$log" "$pylog"; scripts/postgres.sh stop || true' EXIT
pystatus=0
scripts/python.sh 2>&1 | tee "$pylog" || pystatus=$?
summary=$(awk '/[0-9]+ (passed|failed|errors?)/ {line = $0} END {print line}' "$pylog")
count() { # the number before each word matching $1 in the summary line, summed
    awk -v w="$1" '{for (i = 2; i <= NF; i++) if ($i ~ w) s += $(i - 1)} END {print s + 0}' <<<"$summary"
}
py_passed=$(count '^passed')
py_failed=$(count '^(failed|errors?)')
if [ "$pystatus" -ne 0 ] && [ "$py_failed" -eq 0 ]; then
    py_failed=1 # pytest (or building the package) failed without a count: one failure
fi
passed=$((passed + py_passed))
failed=$((failed + py_failed))
[ "$pystatus" -eq 0 ] || status=$pystatus
echo
echo "python: ${summary:-no pytest summary}"
echo "tests: $passed passed, $failed failed"
exit "$status"
