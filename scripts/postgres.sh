#!/usr/bin/env bash
# Start or stop a private PostgreSQL on loopback (no systemd, no /etc/postgresql), for tests
# and CI: the fleet's shared state store.
#
#   scripts/postgres.sh start DIR PORT
#   scripts/postgres.sh stop DIR
#
# Environment:
#   PG_BIN        directory of initdb/pg_ctl/postgres (default: the newest /usr/lib/postgresql/*/bin)
#   PG_PASSWORD   password of the superuser "postgres" (default postgres)
#   PG_RUN_USER   system user that runs the server when started as root (default postgres if that
#                 user exists, else nobody); initdb and postgres refuse to run as root
#
# Prints "READY postgres dsn=postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable pid=PID"
# once the server accepts connections. Durability is traded for speed (fsync=off): test data only.
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$b" ] && command -v initdb >/dev/null; then b=$(dirname "$(command -v initdb)"); fi
  echo "$b"
}

# as_user CMD…: runs CMD as the unprivileged run user when we are root, else as ourselves.
as_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$run_user" -- "$@"
  else
    "$@"
  fi
}

# alive PID: the process exists and is not a zombie.
alive() {
  [ -r "/proc/$1/stat" ] || return 1
  local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)
  [ "$st" != Z ]
}

stop() {
  local pidf="$dir/data/postmaster.pid"
  [ -f "$pidf" ] || { echo "STOPPED postgres (not running)"; return 0; }
  local pid; pid=$(head -1 "$pidf")
  # SIGINT: fast shutdown (SIGTERM would wait for clients to disconnect).
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    alive "$pid" || { echo "STOPPED postgres pid=$pid"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  echo "STOPPED postgres pid=$pid (killed)"
}

start() {
  local port=${3:?PORT}
  local bin; bin=$(pg_bin)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "postgresql is not installed (apt-get install postgresql)" >&2; exit 3; }
  if [ -f "$dir/data/postmaster.pid" ] && alive "$(head -1 "$dir/data/postmaster.pid")"; then
    echo "a postgres already runs in $dir" >&2; exit 1
  fi
  run_user=${PG_RUN_USER:-}
  if [ -z "$run_user" ]; then
    if id postgres >/dev/null 2>&1; then run_user=postgres; else run_user=nobody; fi
  fi
  mkdir -p "$dir"/{run,log}
  dir=$(cd "$dir" && pwd)
  local pw=${PG_PASSWORD:-postgres}
  umask 077
  printf '%s\n' "$pw" > "$dir/pwfile"
  # As root, DIR belongs to the run user (every directory above it must be searchable by it).
  if [ "$(id -u)" = 0 ]; then chown -R "$run_user" "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    if ! as_user "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/log/initdb.log" 2>&1; then
      echo "initdb failed:" >&2; tail -30 "$dir/log/initdb.log" >&2; exit 1
    fi
  fi
  rm -f "$dir/pwfile"
  if ! as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/log/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/run -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >"$dir/log/pg_ctl.log" 2>&1; then
    echo "postgres did not start:" >&2; tail -30 "$dir/log/postgres.log" "$dir/log/pg_ctl.log" >&2 || true
    stop >/dev/null 2>&1 || true
    exit 1
  fi
  for _ in $(seq 1 100); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      echo "READY postgres dsn=postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable pid=$(head -1 "$dir/data/postmaster.pid")"
      return 0
    fi
    sleep 0.05
  done
  echo "postgres did not answer on port $port" >&2
  tail -30 "$dir/log/postgres.log" >&2 || true
  stop >/dev/null 2>&1 || true
  exit 1
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
