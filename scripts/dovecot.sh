#!/usr/bin/env bash
# Start or stop a private Dovecot (IMAP + ManageSieve, and LMTP with Sieve) on loopback, for
# tests and CI.
#
#   scripts/dovecot.sh start DIR IMAP_PORT [SIEVE_PORT [LMTP_PORT]]
#   scripts/dovecot.sh stop DIR
#
# With LMTP_PORT (needs dovecot-lmtpd), mail delivered over LMTP runs the recipient's active
# Sieve script (Pigeonhole, as ManageSieve stores it). Mail Sieve sends (vacation replies,
# redirects) goes to DIR/bin/sendmail, which writes each message to DIR/sent/<n>.eml: its
# first line is "X-Bascule-Sendmail: <arguments>" (-f sender -- recipients), then the
# message as Dovecot gave it.
#
# Environment:
#   DOVECOT_USERS        "login:password …" (default "alice:alicepw bob:bobpw"); logins may hold '@'
#   DOVECOT_MASTER_USER  master user for "LOGIN user*master" and SASL authzid (default bascule-admin)
#   DOVECOT_MASTER_PASS  its password (default masterpw)
#   DOVECOT_MAX_MAIL_SIZE  largest message accepted, e.g. 2M (default: no limit)
#   DOVECOT_MAIL_USER    system user owning the mail when run as root (default nobody)
#
# Prints "READY dovecot imap=127.0.0.1:PORT sieve=127.0.0.1:PORT lmtp=127.0.0.1:PORT pid=PID"
# once IMAP (and ManageSieve, LMTP when asked for) answer.
# Never reads /etc/dovecot/conf.d (it would turn on TLS on the standard ports).
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR IMAP_PORT [SIEVE_PORT [LMTP_PORT]] | stop DIR" >&2; exit 2; }

stop() {
  local pidf="$dir/run/master.pid"
  [ -f "$pidf" ] || { echo "STOPPED dovecot (not running)"; return 0; }
  local pid; pid=$(cat "$pidf")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { echo "STOPPED dovecot pid=$pid"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  echo "STOPPED dovecot pid=$pid (killed)"
}

# sieve_ready PORT: ManageSieve's first line is its "IMPLEMENTATION" capability (port 0: none).
sieve_ready() {
  [ "$1" = 0 ] && return 0
  exec 4<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
  local line=""
  read -r -t 2 line <&4 || true
  exec 4<&- 4>&-
  [[ "$line" == '"IMPLEMENTATION"'* ]]
}

# lmtp_ready PORT: LMTP's greeting is "220 …" (port 0: none).
lmtp_ready() {
  [ "$1" = 0 ] && return 0
  exec 4<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
  local line=""
  read -r -t 2 line <&4 || true
  exec 4<&- 4>&-
  [[ "$line" == 220* ]]
}

start() {
  local imap_port=${3:?IMAP_PORT} sieve_port=${4:-0} lmtp_port=${5:-0}
  local bin=/usr/sbin/dovecot
  [ -x "$bin" ] || { echo "dovecot is not installed (apt-get install dovecot-imapd dovecot-managesieved dovecot-sieve dovecot-lmtpd)" >&2; exit 3; }
  if [ -f "$dir/run/master.pid" ] && kill -0 "$(cat "$dir/run/master.pid")" 2>/dev/null; then
    echo "a dovecot already runs in $dir" >&2; exit 1
  fi
  if [ "$lmtp_port" != 0 ] && [ ! -x /usr/lib/dovecot/lmtp ]; then
    echo "dovecot-lmtpd is not installed (apt-get install dovecot-lmtpd)" >&2; exit 3
  fi
  mkdir -p "$dir"/{etc,run,state,log,mail,dict,bin,sent}
  dir=$(cd "$dir" && pwd)
  local users=${DOVECOT_USERS:-"alice:alicepw bob:bobpw"}
  local master_user=${DOVECOT_MASTER_USER:-bascule-admin} master_pass=${DOVECOT_MASTER_PASS:-masterpw}
  local uid gid internal_user login_user internal_group
  if [ "$(id -u)" = 0 ]; then
    local mu=${DOVECOT_MAIL_USER:-nobody}
    uid=$(id -u "$mu"); gid=$(id -g "$mu")
    internal_user=dovecot; login_user=dovenull; internal_group=dovecot
    getent passwd dovecot >/dev/null || internal_user=$mu
    getent passwd dovenull >/dev/null || login_user=$mu
    getent group dovecot >/dev/null || internal_group=$(id -gn "$mu")
  else
    uid=$(id -u); gid=$(id -g)
    internal_user=$(id -un); login_user=$(id -un); internal_group=$(id -gn)
  fi

  : > "$dir/etc/users"
  for u in $users; do
    local login=${u%%:*} pw=${u#*:}
    printf '%s:{PLAIN}%s:%s:%s::%s/mail/%s::\n' "$login" "$pw" "$uid" "$gid" "$dir" "$login" >> "$dir/etc/users"
  done
  printf '%s:{PLAIN}%s\n' "$master_user" "$master_pass" > "$dir/etc/masters"

  # Sieve's outgoing mail (vacation replies, redirects): one file per message in DIR/sent.
  cat > "$dir/bin/sendmail" <<'SH'
#!/bin/sh
sent=$(dirname "$0")/../sent
f=$(mktemp "$sent/XXXXXXXX.tmp") || exit 75
{ printf 'X-Bascule-Sendmail: %s\n' "$*"; cat; } > "$f" && mv "$f" "${f%.tmp}.eml"
SH
  chmod 755 "$dir/bin/sendmail"
  local lmtp_protocol="" lmtp_conf=""
  if [ "$lmtp_port" != 0 ]; then
    lmtp_protocol=lmtp
    lmtp_conf="protocol lmtp {
  mail_plugins = \$mail_plugins sieve
  postmaster_address = postmaster@localhost
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp_port
  }
}"
  fi

  local quota_extra=""
  [ -n "${DOVECOT_MAX_MAIL_SIZE:-}" ] && quota_extra="quota_max_mail_size = ${DOVECOT_MAX_MAIL_SIZE}"
  local chroot_line="" group_line=""
  if [ "$(id -u)" != 0 ]; then
    chroot_line="chroot ="
    group_line="default_internal_group = $internal_group"
  fi
  cat > "$dir/etc/dovecot.conf" <<CONF
instance_name = bascule-dovecot-$imap_port
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/log/dovecot.log
info_log_path = $dir/log/dovecot.log
protocols = imap sieve $lmtp_protocol
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_master_user_separator = *
default_internal_user = $internal_user
default_login_user = $login_user
$group_line
first_valid_uid = 1
last_valid_uid = 0
mail_location = maildir:~/Maildir:LAYOUT=fs
mail_plugins = acl quota
mail_max_userip_connections = 200
auth_cache_size = 0
mail_fsync = ${DOVECOT_MAIL_FSYNC:-optimized}
auth_failure_delay = 0
imap_metadata = yes
mail_attribute_dict = file:%h/dovecot-attributes
log_timestamp = "%Y-%m-%d %H:%M:%S "

passdb {
  driver = passwd-file
  master = yes
  args = scheme=PLAIN username_format=%u $dir/etc/masters
  result_success = continue
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/etc/users
}

namespace inbox {
  type = private
  separator = /
  prefix =
  inbox = yes
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
  }
}
namespace shared {
  type = shared
  separator = /
  prefix = shared/%%u/
  location = maildir:%%h/Maildir:LAYOUT=fs:INDEXPVT=~/Maildir/shared/%%u
  subscriptions = no
  list = children
}

protocol imap {
  mail_plugins = \$mail_plugins imap_acl imap_quota
}
protocol sieve {
  managesieve_max_line_length = 65536
}
$lmtp_conf
service imap-login {
  inet_listener imap {
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
  $chroot_line
}
service managesieve-login {
  inet_listener sieve {
    port = $sieve_port
  }
  $chroot_line
}
service anvil {
  $chroot_line
  # No growing delay after failed logins (tests check refusals, then log in again).
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  $chroot_line
}
plugin {
  acl = vfile
  # A master user acts as the account owner (ACLs would otherwise be checked for the master).
  acl_user = %u
  # SETACL may name "anyone" and "authenticated" (Exchange's "Default" grants map to them).
  acl_anyone = allow
  acl_shared_dict = file:$dir/dict/shared-mailboxes.db
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage=10G
  $quota_extra
  sieve = file:~/sieve;active=~/.dovecot.sieve
  # Vacation: at most one reply per sender per :days (1 day unless the script says more);
  # tests count replies in DIR/sent.
  sieve_vacation_min_period = 1d
  sieve_vacation_default_period = 7d
}
sendmail_path = $dir/bin/sendmail
CONF
  if [ "$(id -u)" = 0 ]; then
    chown -R "$uid:$gid" "$dir/mail" "$dir/dict" "$dir/sent"
    chgrp "$internal_group" "$dir/etc/users" "$dir/etc/masters" 2>/dev/null || true
    chmod 640 "$dir/etc/users" "$dir/etc/masters"
  fi
  if ! "$bin" -c "$dir/etc/dovecot.conf" 2>"$dir/log/start.err"; then
    cat "$dir/log/start.err" >&2; tail -20 "$dir/log/dovecot.log" >&2 2>/dev/null || true; exit 1
  fi
  for _ in $(seq 1 100); do
    if exec 3<>"/dev/tcp/127.0.0.1/$imap_port" 2>/dev/null; then
      local greeting=""
      read -r -t 2 greeting <&3 || true
      exec 3<&- 3>&-
      if [[ "$greeting" == "* OK"* ]] && sieve_ready "$sieve_port" && lmtp_ready "$lmtp_port"; then
        local sieve=none lmtp=none
        [ "$sieve_port" != 0 ] && sieve=127.0.0.1:$sieve_port
        [ "$lmtp_port" != 0 ] && lmtp=127.0.0.1:$lmtp_port
        echo "READY dovecot imap=127.0.0.1:$imap_port sieve=$sieve lmtp=$lmtp pid=$(cat "$dir/run/master.pid" 2>/dev/null)"
        return 0
      fi
    fi
    sleep 0.05
  done
  echo "dovecot did not answer on port $imap_port" >&2
  tail -30 "$dir/log/dovecot.log" >&2 2>/dev/null || true
  stop >/dev/null 2>&1 || true
  exit 1
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start DIR IMAP_PORT [SIEVE_PORT [LMTP_PORT]] | stop DIR" >&2; exit 2 ;;
esac
