# A throwaway PostgreSQL server for the tests, sourced by .ci/run (and usable by hand:
# `source .ci/postgres.sh && pg_test_start`, then `pg_test_stop`).
#
# pg_test_start installs Debian's `postgresql` package when no server binaries are
# present (as root only), creates a cluster in a temporary directory owned by an
# unprivileged user, starts it on a free loopback port and exports
# RCS_MLS_TEST_POSTGRES=postgresql://postgres@127.0.0.1:PORT/postgres.
# pg_test_stop stops it and deletes the directory. Nothing else on the machine changes
# (no system cluster is created or started).

PG_TEST_USER="${PG_TEST_USER:-rcsmls-pgtest}"
PG_TEST_DIR=""
PG_TEST_BIN=""

_pg_find_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

_pg_as_user() {
    if [ "$(id -u)" -eq 0 ]; then
        # From /: the user may not enter the caller's directory.
        (cd / && runuser -u "$PG_TEST_USER" -- "$@")
    else
        "$@"
    fi
}

pg_test_start() {
    PG_TEST_BIN="$(_pg_find_bin)" || {
        if [ "$(id -u)" -ne 0 ]; then
            echo "postgres: no server binaries and not root: cannot install postgresql" >&2
            return 1
        fi
        echo "postgres: installing Debian's postgresql package"
        # Keep the package from creating and starting a system cluster.
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/50-rcs-mls-ci.conf
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
        PG_TEST_BIN="$(_pg_find_bin)" || return 1
    }
    if [ "$(id -u)" -eq 0 ] && ! id "$PG_TEST_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_TEST_USER" || return 1
    fi
    PG_TEST_DIR="$(mktemp -d /tmp/rcs-mls-pg.XXXXXX)" || return 1
    chmod 755 "$PG_TEST_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$PG_TEST_USER" "$PG_TEST_DIR"
    fi
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')" || return 1
    _pg_as_user "$PG_TEST_BIN/initdb" -D "$PG_TEST_DIR/data" -U postgres -A trust \
        --no-sync -E UTF8 >"$PG_TEST_DIR/initdb.log" 2>&1 || {
        cat "$PG_TEST_DIR/initdb.log" >&2
        return 1
    }
    # max_connections: the tests run several worker processes, each with a connection per store.
    _pg_as_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w \
        -o "-k $PG_TEST_DIR -p $port -c listen_addresses=127.0.0.1 -c max_connections=200" \
        start >/dev/null || {
        cat "$PG_TEST_DIR/server.log" >&2
        return 1
    }
    export RCS_MLS_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "postgres: test server $("$PG_TEST_BIN/postgres" --version) at $RCS_MLS_TEST_POSTGRES"
}

pg_test_stop() {
    if [ -n "$PG_TEST_DIR" ] && [ -d "$PG_TEST_DIR/data" ]; then
        _pg_as_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
            _pg_as_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1
    fi
    if [ -n "$PG_TEST_DIR" ]; then
        rm -rf "$PG_TEST_DIR"
    fi
    PG_TEST_DIR=""
}
