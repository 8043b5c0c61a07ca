#!/usr/bin/env bash
# Start or stop a private Cyrus IMAP with its CalDAV/CardDAV module on loopback, for tests and CI.
#
#   scripts/cyrus.sh start DIR IMAP_PORT HTTP_PORT [SIEVE_PORT]
#   scripts/cyrus.sh stop DIR
#
# Environment:
#   CYRUS_USERS        "login:password …" (default "alice:alicepw bob:bobpw"); logins may hold '@'
#   CYRUS_ADMIN_USER   Cyrus admin ("admins:"), may read and write every mailbox and DAV
#                      collection (default cyrusadmin)
#   CYRUS_ADMIN_PASS   its password (default adminpw)
#   CYRUS_IMAPD        path of imapd; else /usr/lib/cyrus/bin/imapd, else the cyrus-imapd package
#                      unpacked under CYRUS_IMAPD_ROOT (default /opt/cyrus-imapd; see .ci/run:
#                      installing cyrus-imapd would remove dovecot-imapd)
#   CYRUS_RUN_USER     system user the services run as when started as root (default cyrus)
#   CYRUS_TELEMETRY    1: Cyrus writes every user's protocol traffic under DIR/conf/log/<user>/
#                      (Cyrus logs only to syslog, which is usually absent here)
#
# Before READY every user logs in once over IMAP (Cyrus creates the INBOX, its folders and a
# 1 GiB quota at first login, and answers DAV requests for a user without one with HTTP 500),
# then makes one DAV request (which creates the calendar and address book homes, each with a
# "Default" collection). Cyrus admins get no DAV rights of their own: the admin is then given
# every right on each user's homes and Default collections (SETACL; collections created later
# inherit it), and fastmailsharing lets it address them by their owner's URL.
# Prints "READY cyrus imap=127.0.0.1:P http=http://127.0.0.1:P sieve=… pid=PID".
set -euo pipefail

cmd=${1:-}; dir=${2:-}
usage="usage: $0 start DIR IMAP_PORT HTTP_PORT [SIEVE_PORT] | stop DIR"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "$usage" >&2; exit 2; }
bin=/usr/lib/cyrus/bin

# alive PID: the process exists and is not a zombie (a PID 1 that is not an init reaps late).
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st%% *}" != Z ]
}

stop() {
  local pidf="$dir/master.pid"
  [ -f "$pidf" ] || { echo "STOPPED cyrus (not running)"; return 0; }
  local pid; pid=$(cat "$pidf")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    alive "$pid" || { rm -f "$pidf"; echo "STOPPED cyrus pid=$pid"; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidf"
  echo "STOPPED cyrus pid=$pid (killed)"
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
  { exec 5<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  exec 5<&- 5>&-
}

# imap_ready PORT: the greeting is "* OK".
imap_ready() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  local line=""
  read -r -t 2 line <&3 || true
  exec 3<&- 3>&-
  [[ "$line" == "* OK"* ]]
}

# http_ready PORT: any HTTP status line for GET /.well-known/caldav.
http_ready() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /.well-known/caldav HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
  local line=""
  read -r -t 2 line <&3 || true
  exec 3<&- 3>&-
  [[ "$line" == HTTP/* ]]
}

# sieve_ready PORT: timsieved's first line is its "IMPLEMENTATION" capability (port 0: none).
sieve_ready() {
  [ "$1" = 0 ] && return 0
  { exec 4<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  local line=""
  read -r -t 2 line <&4 || true
  exec 4<&- 4>&-
  [[ "$line" == '"IMPLEMENTATION"'* ]]
}

# imap_quote S: an IMAP quoted string.
imap_quote() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

# imap_run PORT LOGIN PASSWORD [COMMAND…]: LOGIN, each command, LOGOUT; fails at the first
# command (LOGIN included) not answered OK.
imap_run() {
  local port=$1 login=$2 pass=$3; shift 3
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  local line="" n=0 rc=0 c
  read -r -t 5 line <&3 || true
  for c in "LOGIN $(imap_quote "$login") $(imap_quote "$pass")" "$@"; do
    n=$((n + 1))
    printf 't%d %s\r\n' "$n" "$c" >&3
    rc=1
    while read -r -t 10 line <&3; do
      case "$line" in
        "t$n OK"*) rc=0; break ;;
        "t$n "*) echo "IMAP as $login: $c: ${line%$'\r'}" >&2; break ;;
      esac
    done
    [ $rc = 0 ] || break
  done
  printf 'z LOGOUT\r\n' >&3 2>/dev/null || true
  exec 3<&- 3>&-
  return $rc
}

# dav_touch PORT LOGIN PASSWORD: one authenticated PROPFIND; Cyrus creates the user's calendar
# and address book homes (with their Default collections) at the first authenticated request.
dav_touch() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  local auth line=""
  auth=$(printf '%s:%s' "$2" "$3" | base64 -w0)
  printf 'PROPFIND /dav/calendars/user/%s/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic %s\r\nDepth: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$2" "$auth" >&3
  read -r -t 10 line <&3 || true
  exec 3<&- 3>&-
  [[ "$line" == "HTTP/1.1 207"* ]] || { echo "PROPFIND as $2: ${line%$'\r'}" >&2; return 1; }
}

start() {
  local imap_port=${3:?IMAP_PORT} http_port=${4:?HTTP_PORT} sieve_port=${5:-0}
  [ -x "$bin/master" ] && [ -x "$bin/httpd" ] || {
    echo "cyrus is not installed (apt-get install cyrus-common cyrus-caldav cyrus-admin sasl2-bin)" >&2; exit 3; }
  command -v saslpasswd2 >/dev/null || { echo "saslpasswd2 is missing (apt-get install sasl2-bin)" >&2; exit 3; }
  local imapd=${CYRUS_IMAPD:-}
  if [ -z "$imapd" ]; then
    imapd=$bin/imapd
    [ -x "$imapd" ] || imapd=${CYRUS_IMAPD_ROOT:-/opt/cyrus-imapd}/usr/lib/cyrus/bin/imapd
  fi
  [ -x "$imapd" ] || { echo "no Cyrus imapd: unpack cyrus-imapd (see .ci/run) or set CYRUS_IMAPD" >&2; exit 3; }
  if [ -f "$dir/master.pid" ] && alive "$(cat "$dir/master.pid")"; then
    echo "a cyrus already runs in $dir" >&2; exit 1
  fi
  for p in "$imap_port" "$http_port" "$sieve_port"; do
    [ "$p" = 0 ] && continue
    if port_open "$p"; then echo "port $p is busy" >&2; exit 1; fi
  done
  mkdir -p "$dir"/{etc,conf/proc,conf/lock,conf/socket,conf/log,spool,sieve,log}
  dir=$(cd "$dir" && pwd)
  local users=${CYRUS_USERS:-"alice:alicepw bob:bobpw"}
  local admin=${CYRUS_ADMIN_USER:-cyrusadmin} admin_pass=${CYRUS_ADMIN_PASS:-adminpw}
  local run_user run_group
  if [ "$(id -u)" = 0 ]; then
    run_user=${CYRUS_RUN_USER:-cyrus}; run_group=$(id -gn "$run_user")
  else
    run_user=$(id -un); run_group=$(id -gn)
  fi

  cat > "$dir/etc/imapd.conf" <<CONF
configdirectory: $dir/conf
partition-default: $dir/spool
defaultpartition: default
proc_path: $dir/conf/proc
mboxname_lockpath: $dir/conf/lock
lmtpsocket: $dir/conf/socket/lmtp
idlesocket: $dir/conf/socket/idle
notifysocket: $dir/conf/socket/notify
sievedir: $dir/sieve
servername: localhost
cyrus_user: $run_user
cyrus_group: $run_group
admins: $admin
# Auth: SASL auxprop against a private sasldb; plaintext allowed (no TLS at all).
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $dir/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
sasl_minimum_layer: 0
# "/" separator, personal folders at the top, others under "Other Users/<user>/".
unixhierarchysep: yes
altnamespace: yes
# Logins may hold a domain (carol@example.org: SASL realm example.org); plain logins live in
# the default domain.
virtdomains: userid
defaultdomain: localhost
# INBOX, special-use folders and a 1 GiB quota at first login.
autocreate_quota: 1048576
autocreate_inbox_folders: Drafts | Sent | Trash | Junk | Archive
autocreate_subscribe_folders: Drafts | Sent | Trash | Junk
xlist-drafts: Drafts
xlist-sent: Sent
xlist-trash: Trash
xlist-junk: Junk
xlist-archive: Archive
# DAV
httpmodules: caldav carddav
caldav_allowscheduling: off
calendarprefix: #calendars
addressbookprefix: #addressbooks
caldav_create_default: yes
carddav_create_default: yes
httpallowcompress: no
# Non-owners (the admin) address a collection by its owner's URL instead of being 301-redirected
# to /dav/calendars/user/<self>/<owner>.<collection>/ (CYRUS_FASTMAILSHARING=no: Cyrus' default).
fastmailsharing: ${CYRUS_FASTMAILSHARING:-yes}
reverseacls: yes
hashimapspool: true
umask: 077
syslog_prefix: bascule-cyrus-$imap_port
CONF
  local sieve_service=""
  [ "$sieve_port" != 0 ] && sieve_service="  sieve     cmd=\"$bin/timsieved -C $dir/etc/imapd.conf\" listen=\"127.0.0.1:$sieve_port\" prefork=0 maxchild=20"
  cat > "$dir/etc/cyrus.conf" <<CONF
START {
  recover   cmd="$bin/ctl_cyrusdb -C $dir/etc/imapd.conf -r"
}
SERVICES {
  imap      cmd="$imapd -C $dir/etc/imapd.conf" listen="127.0.0.1:$imap_port" prefork=1 maxchild=100
  http      cmd="$bin/httpd -C $dir/etc/imapd.conf" listen="127.0.0.1:$http_port" prefork=1 maxchild=100
$sieve_service
  lmtpunix  cmd="$bin/lmtpd -C $dir/etc/imapd.conf" listen="$dir/conf/socket/lmtp" prefork=0 maxchild=10
}
EVENTS {
  checkpoint cmd="$bin/ctl_cyrusdb -C $dir/etc/imapd.conf -c" period=30
}
DAEMON {
}
CONF

  rm -f "$dir/sasldb2"
  for u in $users "$admin:$admin_pass"; do
    local login=${u%%:*} pw=${u#*:}
    local realm=localhost name=$login
    if [[ "$login" == *@* ]]; then realm=${login##*@}; name=${login%@*}; fi
    printf '%s' "$pw" | saslpasswd2 -p -c -f "$dir/sasldb2" -u "$realm" "$name"
    if [ "${CYRUS_TELEMETRY:-}" = 1 ]; then mkdir -p "$dir/conf/log/$login"; fi
  done
  if [ "$(id -u)" = 0 ]; then
    chmod go+x "$dir"  # the services run as $run_user
    chown -R "$run_user:$run_group" "$dir/conf" "$dir/spool" "$dir/sieve" "$dir/sasldb2" "$dir/log"
  fi
  chmod 600 "$dir/sasldb2"

  "$bin/master" -C "$dir/etc/imapd.conf" -M "$dir/etc/cyrus.conf" -p "$dir/master.pid" \
    -L "$dir/log/master.log" -d 2>>"$dir/log/master.log" || {
    echo "cyrus master failed to start" >&2; tail -20 "$dir/log/master.log" >&2 || true; exit 1; }
  local pid=""
  for _ in $(seq 1 200); do
    [ -z "$pid" ] && [ -s "$dir/master.pid" ] && pid=$(cat "$dir/master.pid")
    if [ -n "$pid" ] && ! alive "$pid"; then
      echo "cyrus master exited" >&2; tail -20 "$dir/log/master.log" >&2 || true; exit 1
    fi
    if [ -n "$pid" ] && imap_ready "$imap_port" && http_ready "$http_port" && sieve_ready "$sieve_port"; then
      # First IMAP login creates each user's INBOX (DAV answers 500 for a user without one),
      # first DAV request their homes; then the admin gets every right on them (new
      # collections inherit the ACL of their parent).
      local u login acls=()
      for u in $users; do
        login=${u%%:*}
        if ! imap_run "$imap_port" "$login" "${u#*:}" || ! dav_touch "$http_port" "$login" "${u#*:}"; then
          echo "provisioning $login failed" >&2; stop >/dev/null 2>&1 || true; exit 1
        fi
        for m in "#calendars" "#calendars/Default" "#addressbooks" "#addressbooks/Default"; do
          # With virtual domains an admin names carol@example.org's mailboxes user/carol/…@example.org.
          local mbox="user/$login/$m"
          [[ "$login" == *@* ]] && mbox="user/${login%@*}/$m@${login##*@}"
          acls+=("SETACL $(imap_quote "$mbox") $(imap_quote "$admin") lrswipkxtecdan")
        done
      done
      if ! imap_run "$imap_port" "$admin" "$admin_pass" "${acls[@]}"; then
        echo "granting $admin rights failed" >&2; stop >/dev/null 2>&1 || true; exit 1
      fi
      local sieve=none
      [ "$sieve_port" != 0 ] && sieve=127.0.0.1:$sieve_port
      echo "READY cyrus imap=127.0.0.1:$imap_port http=http://127.0.0.1:$http_port sieve=$sieve pid=$pid"
      return 0
    fi
    sleep 0.05
  done
  echo "cyrus did not answer on ports $imap_port/$http_port (it logs only to syslog; try CYRUS_TELEMETRY=1)" >&2
  tail -20 "$dir/log/master.log" >&2 2>/dev/null || true
  stop >/dev/null 2>&1 || true
  exit 1
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
