#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from Debian's postgresql-15.
#
#   pg_cluster.sh start DIR   # initdb in DIR/data, start on a free loopback port,
#                             # write the admin URI to DIR/uri
#   pg_cluster.sh stop DIR    # stop it (immediate) and remove DIR
#   pg_cluster.sh pause DIR   # stop it, keeping its data (tests of connection loss)
#   pg_cluster.sh resume DIR  # start it again on the same port
#
# initdb and postgres refuse to run as root: as root they run as the `postgres`
# system user (runuser). Durability for the tests: fsync off (the machine does not
# crash under a test), synchronous_commit on (a killed server keeps every commit it
# acknowledged). VLA_PG_DURABLE=1 keeps fsync on (benchmarks of durable ingest).
# CTest starts one cluster per run (fixture `pg`, tests/CMakeLists.txt); a test
# binary run by hand starts its own (tests/pg_test_util.h); failover_bench
# starts one unless given --database.
set -euo pipefail

BINDIR=${VLA_PG_BINDIR:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: pg_cluster.sh start|stop|pause|resume DIR}
dir=$(realpath -m "${2:?usage: pg_cluster.sh start|stop|pause|resume DIR}")

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_server() {
  local port=$1 sync="-c fsync=off -c full_page_writes=off"
  if [ "${VLA_PG_DURABLE:-0}" = 1 ]; then sync=""; fi
  as_pg "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 \
    -o "-p $port -k $dir/data -c listen_addresses=127.0.0.1 $sync \
-c max_connections=400 -c shared_buffers=128MB" \
    start >/dev/null
}

case "$cmd" in
  start)
    rm -rf "$dir"
    mkdir -p "$dir/data"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir/data"; fi
    chmod 700 "$dir/data"
    as_pg "$BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
      --no-sync --no-instructions >/dev/null
    # A free port: try random ones until the server starts on one.
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 40000))
      if start_server "$port" 2>/dev/null; then
        echo "$port" >"$dir/port"
        echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/uri"
        exit 0
      fi
    done
    echo "pg_cluster: could not start PostgreSQL; log:" >&2
    cat "$dir/data/server.log" >&2 || true
    exit 1
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  pause)
    as_pg "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    start_server "$(cat "$dir/port")"
    ;;
  *)
    echo "pg_cluster: unknown command $cmd" >&2
    exit 2
    ;;
esac
