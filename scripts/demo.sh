#!/usr/bin/env bash
# The Mapdrive demo: a simulated Microsoft 365 (m365sim, demo seed), the
# companion service on SQLite with contoso registered, and alice's agent
# mounting her OneDrive and the Finance library under ./demo/mnt.
#
#   bash scripts/demo.sh start   # (make demo) stops any previous demo first
#   bash scripts/demo.sh stop    # (make demo-stop)
#   bash scripts/demo.sh status
#
# Everything lives in ./demo: data, logs (*.log), pid files (*.pid), the
# session bus and keyring the agent keeps alice's tokens in, and the demo's
# configuration: seed-ids.sh (the identities of m365sim's demo seed, from
# `m365sim --print-demo-config`), service.env (mapdrive-service's settings)
# and env.sh (the desktop client's, to source for the mapdrive CLI). The
# binaries have no built-in ids: every one comes from these files. The demo
# uses the seed's v2.0 service API (api://mapdrive). Binaries come from
# ./bin (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
DEMO=$REPO/demo
BIN=$REPO/bin
SIM_ADDR=localhost:9443
SIM_URL=https://$SIM_ADDR
SVC_URL=https://localhost:8443
KEYRING_PASSWORD=mapdrive-demo # unlocks the demo's throwaway keyring only
DEMO_USER=alice@contoso.com

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() {
  printf 'demo: %s\n' "$*" >&2
  exit 1
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND every 0.2 s.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
      echo "demo: timed out after ${secs}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

# start_bg NAME COMMAND...: runs COMMAND in the background, output to
# demo/NAME.log, pid to demo/NAME.pid.
start_bg() {
  local name=$1
  shift
  nohup "$@" >"$DEMO/$name.log" 2>&1 </dev/null &
  echo $! >"$DEMO/$name.pid"
}

alive() { [ -s "$DEMO/$1.pid" ] && kill -0 "$(cat "$DEMO/$1.pid")" 2>/dev/null; }

# stop_pid NAME: SIGTERM, up to 10 s, then SIGKILL; removes the pid file.
stop_pid() {
  local name=$1 pid
  [ -s "$DEMO/$name.pid" ] || return 0
  pid=$(cat "$DEMO/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: $name (pid $pid) ignored SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$DEMO/$name.pid"
}

# demo_mounts lists the mount points under demo/mnt, deepest first.
demo_mounts() {
  awk -v root="$DEMO/mnt" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/mounts | sort -r
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# svc_env: the env(1) arguments that start a program without any MAPDRIVE*
# variable. A shell that sourced demo/env.sh holds the desktop client's
# settings (MAPDRIVE_CLIENT_ID is the desktop app's id), and the service
# still honours its old MAPDRIVE_ names for one release; the demo
# configures the service with flags alone.
svc_env() {
  local v args=(env)
  for v in $(compgen -e); do
    case $v in MAPDRIVE*) args+=(-u "$v") ;; esac
  done
  printf '%s\n' "${args[@]}"
}

# Environment of the agent and the CLI: everything points at the demo.
# These are the desktop client's settings; the service's are MAPDRIVESVC_*
# (the demo passes them as flags), so sourcing this file changes nothing
# for the service or for the tests (make test) run from the same shell.
write_env() {
  cat >"$DEMO/env.sh" <<EOF
# Source this to use the demo's agent: . demo/env.sh; mapdrive status --watch
# (the desktop client's MAPDRIVE_* settings; mapdrive-service reads MAPDRIVESVC_*)
export PATH="$BIN:\$PATH"
export MAPDRIVE_AUTHORITY="$SIM_URL/organizations"
export MAPDRIVE_CLIENT_ID="$DEMO_DESKTOP_CLIENT_ID"
export MAPDRIVE_SERVICE_SCOPE="$DEMO_SERVICE_SCOPE"
export MAPDRIVE_GRAPH_URL="$SIM_URL/v1.0"
export MAPDRIVE_SERVICE_URL="$SVC_URL"
export MAPDRIVE_CA_FILE="$DEMO/ca-bundle.pem"
export MAPDRIVE_POLL_INTERVAL="10s"
export MAPDRIVE_MOUNT_ROOT="$DEMO/mnt"
export MAPDRIVE_SOCKET="$DEMO/run/agent.sock"
export MAPDRIVE_STATE_DIR="$DEMO/agent/state"
export MAPDRIVE_CACHE_DIR="$DEMO/agent/cache"
export MAPDRIVE_LOG_LEVEL="info"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$DEMO/run/bus"
EOF
}

# write_service_env writes mapdrive-service's settings for the demo, one
# MAPDRIVESVC_NAME=value a line (env(1) arguments, not shell), from the
# seed's identities: the v2.0 API's client id, both audiences, the desktop
# app the portal shows. The service reads nothing else.
write_service_env() {
  cat >"$DEMO/service.env" <<EOF
MAPDRIVESVC_DATA_DIR=$DEMO/service
MAPDRIVESVC_AUTHORITY=$SIM_URL
MAPDRIVESVC_GRAPH_URL=$SIM_URL/v1.0
MAPDRIVESVC_AUTHORITY_CA=$DEMO/sim/ca.pem
MAPDRIVESVC_CLIENT_ID=$DEMO_SERVICE_CLIENT_ID
MAPDRIVESVC_AUDIENCE=$DEMO_SERVICE_CLIENT_ID,$DEMO_SERVICE_APP_ID_URI
MAPDRIVESVC_CLIENT_SECRET_FILE=$DEMO/service/client-secret
MAPDRIVESVC_DESKTOP_CLIENT_ID=$DEMO_DESKTOP_CLIENT_ID
EOF
}

cmd_stop() {
  [ -d "$DEMO" ] || return 0
  if alive agent; then
    say "stopping the agent (it unmounts its drives)"
  fi
  stop_pid agent
  local m
  for m in $(demo_mounts); do
    fusermount -u "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
      echo "demo: could not unmount $m" >&2
  done
  stop_pid keyring
  stop_pid dbus
  stop_pid service
  stop_pid m365sim
  rm -f "$DEMO/run/agent.sock" "$DEMO/run/bus"
  if [ -n "$(demo_mounts)" ]; then
    die "mounts remain under $DEMO/mnt: $(demo_mounts | tr '\n' ' ')"
  fi
  echo "demo stopped; data stays in $DEMO (rm -rf demo for a fresh start)"
}

cmd_status() {
  local n
  for n in m365sim service dbus keyring agent; do
    if alive "$n"; then echo "$n: running (pid $(cat "$DEMO/$n.pid"))"; else echo "$n: stopped"; fi
  done
  demo_mounts | sed 's/^/mounted: /'
}

cmd_start() {
  local t0=$SECONDS
  for b in m365sim mapdrive-service mapdrive; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing; run 'make build' (make demo does)"
  done
  for b in dbus-daemon gnome-keyring-daemon fusermount; do
    command -v "$b" >/dev/null || die "$b is not installed; run 'make deps'"
  done
  [ -e /dev/fuse ] || die "/dev/fuse is missing: the demo needs FUSE (modprobe fuse, or a container with --device /dev/fuse)"

  cmd_stop >/dev/null
  for p in 9443 8443; do
    port_busy "$p" && die "port $p is taken by another program; stop it first (ss -ltnp 'sport = :$p')"
  done
  mkdir -p "$DEMO"/{sim,service,agent/state,agent/cache,mnt,run,keyring}
  chmod 700 "$DEMO/run" "$DEMO/keyring" "$DEMO/agent"
  "$BIN/m365sim" --print-demo-config >"$DEMO/seed-ids.sh" || die "m365sim --print-demo-config failed"
  # shellcheck source=/dev/null
  . "$DEMO/seed-ids.sh"
  write_env
  write_service_env

  say "starting m365sim on $SIM_URL (demo seed; state in demo/sim)"
  start_bg m365sim "$BIN/m365sim" --addr "$SIM_ADDR" --data "$DEMO/sim" --seed demo
  wait_for "m365sim (see demo/m365sim.log)" 30 curl -fsS --cacert "$DEMO/sim/ca.pem" "$SIM_URL/_admin/info" ||
    die "m365sim did not start: $(tail -5 "$DEMO/m365sim.log")"

  local clean svc
  mapfile -t clean < <(svc_env)
  mapfile -t svc <"$DEMO/service.env"
  svc=("${clean[@]}" "${svc[@]}" "$BIN/mapdrive-service")
  say "registering contoso with the service: $DEMO_SEATS seats, Finance on F: for the Finance Team"
  "${svc[@]}" migrate --log-level warn >/dev/null
  # The operator's own commands; a second start finds them done.
  if ! "${svc[@]}" tenant list --log-level warn | grep -q "^$DEMO_TENANT_ID "; then
    "${svc[@]}" "${DEMO_REGISTER_TENANT[@]}" --log-level warn
  fi
  if ! "${svc[@]}" mapping list --tenant "$DEMO_TENANT_ID" --log-level warn | grep -q '"displayName": "Finance"'; then
    "${svc[@]}" "${DEMO_REGISTER_MAPPING[@]}" --log-level warn >/dev/null
  fi
  say "starting mapdrive-service on $SVC_URL (SQLite in demo/service, settings in demo/service.env)"
  printf '%s\n' "$DEMO_SERVICE_SECRET" >"$DEMO/service/client-secret"
  chmod 600 "$DEMO/service/client-secret"
  start_bg service "${svc[@]}" serve
  wait_for "the service's CA (see demo/service.log)" 30 test -s "$DEMO/service/ca.pem" ||
    die "mapdrive-service did not start: $(tail -5 "$DEMO/service.log")"
  cat "$DEMO/sim/ca.pem" "$DEMO/service/ca.pem" >"$DEMO/ca-bundle.pem"
  wait_for "mapdrive-service /healthz" 30 curl -fsS --cacert "$DEMO/ca-bundle.pem" "$SVC_URL/healthz" ||
    die "mapdrive-service is not healthy: $(tail -5 "$DEMO/service.log")"

  say "starting a session bus and an unlocked keyring for alice's tokens"
  dbus-daemon --session --fork --nopidfile --address="unix:path=$DEMO/run/bus" --print-pid=3 3>"$DEMO/dbus.pid" >/dev/null
  wait_for "the session bus" 10 test -S "$DEMO/run/bus"
  # gnome-keyring-daemon --unlock reads the password on stdin and creates
  # the login keyring in demo/keyring on first use; --foreground keeps it
  # our child so its pid is known.
  DBUS_SESSION_BUS_ADDRESS="unix:path=$DEMO/run/bus" XDG_DATA_HOME="$DEMO/keyring" XDG_RUNTIME_DIR="$DEMO/run" \
    nohup gnome-keyring-daemon --foreground --unlock --components=secrets \
    < <(printf '%s' "$KEYRING_PASSWORD") >"$DEMO/keyring.log" 2>&1 &
  echo $! >"$DEMO/keyring.pid"
  wait_for "the keyring on the session bus (see demo/keyring.log)" 10 \
    env DBUS_SESSION_BUS_ADDRESS="unix:path=$DEMO/run/bus" dbus-send --session --print-reply \
    --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetNameOwner string:org.freedesktop.secrets ||
    die "gnome-keyring did not start: $(tail -5 "$DEMO/keyring.log")"

  say "starting alice's agent (log in demo/agent.log)"
  # shellcheck source=/dev/null
  . "$DEMO/env.sh"
  export XDG_RUNTIME_DIR="$DEMO/run"
  start_bg agent "$BIN/mapdrive" agent
  wait_for "the agent's socket (see demo/agent.log)" 30 test -S "$DEMO/run/agent.sock" ||
    die "the agent did not start: $(tail -5 "$DEMO/agent.log")"

  say "signing alice in by device code, approved through m365sim's admin API (no browser)"
  local login_out=$DEMO/login.jsonl code=""
  "$BIN/mapdrive" login --device-code --json >"$login_out" 2>"$DEMO/login.err" &
  local login_pid=$!
  for _ in $(seq 150); do
    if grep -q '"account"\|"username"' "$login_out" 2>/dev/null; then break; fi
    code=$(sed -n 's/.*"user_code":"\([^"]*\)".*/\1/p' "$login_out" | head -1)
    [ -n "$code" ] && break
    kill -0 "$login_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -n "$code" ]; then
    curl -fsS --cacert "$DEMO/sim/ca.pem" -H 'Content-Type: application/json' \
      -d "{\"user_code\":\"$code\",\"upn\":\"$DEMO_USER\"}" "$SIM_URL/_admin/devicecode/approve" >/dev/null ||
      die "approving the device code failed"
  fi
  wait "$login_pid" || die "sign-in failed: $(cat "$DEMO/login.err")"
  echo "signed in as $DEMO_USER"

  say "waiting for the Finance mapping from the service to mount"
  wait_for "the Finance library at demo/mnt/Finance (see demo/agent.log; mapdrive status)" 60 \
    mountpoint -q "$DEMO/mnt/Finance" || die "Finance did not mount: $("$BIN/mapdrive" status 2>&1 | tail -5)"
  say "mounting alice's OneDrive"
  "$BIN/mapdrive" mount OneDrive "$DEMO/mnt/OneDrive" >/dev/null
  wait_for "OneDrive at demo/mnt/OneDrive" 30 mountpoint -q "$DEMO/mnt/OneDrive" ||
    die "OneDrive did not mount: $("$BIN/mapdrive" status 2>&1 | tail -5)"

  local took=$((SECONDS - t0))
  cat <<EOF

Mapdrive demo is up (${took}s). alice@contoso.com is signed in; her drives:
  demo/mnt/OneDrive   her OneDrive
  demo/mnt/Finance    the Finance site's library, assigned by the admin through the service

Try:
  ls -l demo/mnt/OneDrive/Documents demo/mnt/Finance/Reports
  cat demo/mnt/Finance/Reports/Q1.txt
  cp README.md demo/mnt/OneDrive/Documents/
  . demo/env.sh && mapdrive status --watch       # live transfers; Ctrl-C to leave
  . demo/env.sh && mapdrive drives               # what alice can mount
  portal: $SVC_URL/portal  (sign in as admin@contoso.com; your browser must trust the CAs in demo/ca-bundle.pem)
  Graph as bob: curl --cacert demo/sim/ca.pem $SIM_URL/_admin/as/contoso/bob/me/drive/root/children

Logs and pid files are in demo/. Stop everything with: make demo-stop
EOF
}

case "${1:-start}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) die "usage: $0 start|stop|status" ;;
esac
