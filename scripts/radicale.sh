#!/usr/bin/env bash
# Start or stop a private Radicale (CalDAV + CardDAV) on loopback, for tests and CI.
#
#   scripts/radicale.sh start DIR PORT
#   scripts/radicale.sh stop DIR
#
# Environment:
#   RADICALE_USERS        "login:password …" (default "alice:alicepw bob:bobpw"); logins may hold '@'
#   RADICALE_ADMIN_USER   account that may read and write every collection (default admin)
#   RADICALE_ADMIN_PASS   its password (default adminpw)
#   RADICALE_PYTHON       interpreter (default /usr/bin/python3: Debian's, which sees
#                         python3-radicale; a pyenv python3 on PATH does not)
#
# Each user reads and writes only /<login>/…; the admin reads and writes everything. Principal
# collections (/<login>/) exist from the start, so the admin can write before a user's first
# login; calendars and address books do not (MKCALENDAR / extended MKCOL create them).
# Prints "READY radicale url=http://127.0.0.1:PORT pid=PID" once HTTP answers.
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }

# alive PID: the process exists and is not a zombie (a PID 1 that is not an init reaps late).
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st%% *}" != Z ]
}

stop() {
  local pidf="$dir/radicale.pid"
  [ -f "$pidf" ] || { echo "STOPPED radicale (not running)"; return 0; }
  local pid; pid=$(cat "$pidf")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    alive "$pid" || { rm -f "$pidf"; echo "STOPPED radicale pid=$pid"; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidf"
  echo "STOPPED radicale pid=$pid (killed)"
}

# http_ready PORT: any HTTP status line for GET /.well-known/caldav (Radicale answers 301).
http_ready() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /.well-known/caldav HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  local line=""
  read -r -t 2 line <&3 || true
  exec 3<&- 3>&-
  [[ "$line" == HTTP/* ]]
}

start() {
  local port=${3:?PORT}
  local py=${RADICALE_PYTHON:-/usr/bin/python3}
  "$py" -c 'import radicale' 2>/dev/null || { echo "radicale is not installed for $py (apt-get install radicale)" >&2; exit 3; }
  if [ -f "$dir/radicale.pid" ] && alive "$(cat "$dir/radicale.pid")"; then
    echo "a radicale already runs in $dir" >&2; exit 1
  fi
  if http_ready "$port"; then echo "port $port is busy" >&2; exit 1; fi
  mkdir -p "$dir"/{log,collections/collection-root}
  dir=$(cd "$dir" && pwd)
  local users=${RADICALE_USERS:-"alice:alicepw bob:bobpw"}
  local admin=${RADICALE_ADMIN_USER:-admin} admin_pass=${RADICALE_ADMIN_PASS:-adminpw}

  : > "$dir/users"
  for u in $users "$admin:$admin_pass"; do
    local login=${u%%:*}
    printf '%s\n' "$u" >> "$dir/users"
    mkdir -p "$dir/collections/collection-root/$login"
  done
  chmod 600 "$dir/users"
  # First matching section wins. Radicale's letters: R/W read/write plain collections (the
  # root, principals), r/w read/write calendars and address books.
  cat > "$dir/rights" <<RIGHTS
[admin]
user: $(printf '%s' "$admin" | sed 's/[][\.*^$+?(){}|]/\\&/g')
collection: .*
permissions: RrWw

[owner]
user: .+
collection: {user}(/.*)?
permissions: RrWw

[root]
user: .+
collection:
permissions: R
RIGHTS
  cat > "$dir/config" <<CONF
[server]
hosts = 127.0.0.1:$port
max_connections = 50
timeout = 30

[auth]
type = htpasswd
htpasswd_filename = $dir/users
htpasswd_encryption = plain
delay = 0

[rights]
type = from_file
file = $dir/rights

[storage]
type = multifilesystem
filesystem_folder = $dir/collections

[web]
type = none

[logging]
level = ${RADICALE_LOG_LEVEL:-info}
mask_passwords = True
CONF
  setsid "$py" -m radicale --config "$dir/config" >>"$dir/log/radicale.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" > "$dir/radicale.pid"
  for _ in $(seq 1 200); do
    if ! alive "$pid"; then
      echo "radicale exited" >&2; tail -30 "$dir/log/radicale.log" >&2; rm -f "$dir/radicale.pid"; exit 1
    fi
    if http_ready "$port"; then
      echo "READY radicale url=http://127.0.0.1:$port pid=$pid"
      return 0
    fi
    sleep 0.05
  done
  echo "radicale did not answer on port $port" >&2
  tail -30 "$dir/log/radicale.log" >&2 || true
  stop >/dev/null 2>&1 || true
  exit 1
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
