#!/usr/bin/env bash
# The project's own PostgreSQL test server: a throwaway cluster serving one station's data
# (fixtures/synthetic/gp.csv as table `gp`) for the tests of crates/sources.
#
#   scripts/postgres.sh start   # prints `export TESSERA_TEST_PG_…=…` lines for eval
#   scripts/postgres.sh stop    # stops the cluster and removes its folder
#
# start is idempotent: a cluster that is already running is reused; otherwise a new one is
# made. Installs Debian's postgresql package (apt-get) when initdb/pg_ctl are absent. The
# server runs as the `postgres` user when this script runs as root (postgres refuses root),
# listens on 127.0.0.1 on a free port (and on a socket in its folder), offers TLS with a
# certificate for localhost and 127.0.0.1 signed by a throwaway test CA (TESSERA_TEST_PG_CA;
# made with the openssl command, which Debian's postgresql package brings), and takes the
# `tessera` role with a password (SCRAM) over TCP. Progress goes to stderr; only the export
# lines go to stdout.
#
# Settings: TESSERA_PG_DIR (default /tmp/tessera-pg) holds the cluster, its log and certificates.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${TESSERA_PG_DIR:-/tmp/tessera-pg}"
password="tessera-test"
say() { echo "postgres.sh: $*" >&2; }

# The folder of initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/N/bin.
find_bin() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$b" ] && [ -x "$b/pg_ctl" ] && [ -x "$b/initdb" ]; then
        echo "$b"
    fi
}

# Runs a command as the server's user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -f "$dir/port" ] && [ -n "${bin:-}" ] && [ -f "$dir/data/postmaster.pid" ] &&
        as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

print_env() {
    local port
    port=$(cat "$dir/port")
    echo "export TESSERA_TEST_PG_URL='postgresql://tessera:$password@127.0.0.1:$port/tessera'"
    if [ -f "$dir/ca.crt" ]; then
        echo "export TESSERA_TEST_PG_CA='$dir/ca.crt'"
    fi
    echo "export TESSERA_TEST_PG_DIR='$dir'"
}

# A free TCP port on 127.0.0.1 (nothing answers a connection there).
free_port() {
    local p
    # Start the scan at a place that depends on this process, so that two runs side by side
    # seldom try the same port.
    for p in $(seq $((54320 + $$ % 100)) 54420) $(seq 54320 54420); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    say "no free port in 54320..54420"
    return 1
}

# A test CA and a server certificate for localhost and 127.0.0.1 signed by it (EC P-256).
make_certs() {
    local d="$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -keyout "$d/ca.key" -out "$d/ca.crt" -subj "/CN=tessera test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
        -CAcreateserial -days 30 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
    rm -f "$d/server.csr" "$d/server.ext" "$d/ca.key" "$d/ca.srl"
}

start() {
    bin=$(find_bin)
    if [ -z "$bin" ]; then
        if [ "$(id -u)" != 0 ]; then
            say "PostgreSQL is not installed and this is not root: apt-get install postgresql"
            exit 1
        fi
        say "installing Debian's postgresql package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >&2
        apt-get install -y -q postgresql >&2
        bin=$(find_bin)
        [ -n "$bin" ] || { say "postgresql installed but no initdb/pg_ctl found"; exit 1; }
    fi
    if running; then
        say "reusing the cluster in $dir (port $(cat "$dir/port"))"
        print_env
        return
    fi
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir/sock"
    chmod 755 "$dir"
    local port
    port=$(free_port)
    local ssl=off
    if command -v openssl >/dev/null 2>&1; then
        make_certs "$dir"
        ssl=on
    else
        say "no openssl command: the test server runs without TLS"
    fi
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres: "$dir"
    fi
    say "creating a cluster in $dir with $bin/initdb"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$dir/sock'"
        echo "fsync = off"
        echo "ssl = $ssl"
        if [ "$ssl" = on ]; then
            echo "ssl_cert_file = '$dir/server.crt'"
            echo "ssl_key_file = '$dir/server.key'"
        fi
    } >>"$dir/data/postgresql.conf"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir/data/postgresql.conf"
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >&2 ||
        { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    chmod 644 "$dir/port" "$dir/ca.crt" 2>/dev/null || true

    local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port")
    [ -x "$bin/psql" ] || psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port")
    "${psql[@]}" -U postgres -d postgres >&2 <<SQL
CREATE ROLE tessera LOGIN PASSWORD '$password';
CREATE DATABASE tessera OWNER tessera;
SQL
    "${psql[@]}" -U tessera -d tessera >&2 <<'SQL'
CREATE TABLE gp (
    patient_id text PRIMARY KEY,
    comorbidity integer,
    smoker smallint,
    bmi numeric(4, 1),
    diabetes boolean,
    hypertension integer,
    statin bigint,
    metformin double precision,
    ace_inhibitor real
);
SQL
    "${psql[@]}" -U tessera -d tessera -c "\\copy gp FROM STDIN WITH (FORMAT csv, HEADER true)" \
        <"$root/fixtures/synthetic/gp.csv" >&2
    say "serving table gp ($("${psql[@]}" -U tessera -d tessera -tAc 'SELECT count(*) FROM gp') rows) on 127.0.0.1:$port, TLS $ssl"
    print_env
}

stop() {
    bin=$(find_bin)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$dir/data" stop -m fast -w >&2 || true
    fi
    rm -rf "$dir"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
*)
    say "usage: scripts/postgres.sh start|stop"
    exit 2
    ;;
esac
