#!/usr/bin/env bash
# Sourced by test.sh and bench.sh: starts the local services that tests use
# and exports where to find them. Each start is idempotent.
export MAPDRIVE_TEST_REPO="$(pwd)"

# --- PostgreSQL for the service tests (owner: service) ----------------------
# A private cluster on 127.0.0.1:55432, owned by the postgres OS user, with a
# role mapdrive_test (CREATEDB) that the tests use to make one database per
# test. Idempotent: a running cluster is reused. Exports MAPDRIVE_TEST_PG_DSN.
mapdrive_pg_start() {
  local bindir port=55432 dir=/var/tmp/mapdrive-pg
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bindir" ]; then
    echo "test-env: PostgreSQL is not installed (make deps installs it)" >&2
    return 1
  fi
  local as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  if [ ! -s "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    chmod 700 "$dir"
    "${as[@]}" "$bindir/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
  fi
  if ! "${as[@]}" "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    "${as[@]}" "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  fi
  "${as[@]}" "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -qtAc \
    "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='mapdrive_test') THEN CREATE ROLE mapdrive_test LOGIN CREATEDB PASSWORD 'mapdrive_test'; END IF; END\$\$;" >/dev/null
  "${as[@]}" "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='mapdrive_test'" | grep -q 1 ||
    "${as[@]}" "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -qc "CREATE DATABASE mapdrive_test OWNER mapdrive_test" >/dev/null
  export MAPDRIVE_TEST_PG_DSN="postgres://mapdrive_test:mapdrive_test@127.0.0.1:$port/mapdrive_test?sslmode=disable"
}
mapdrive_pg_start || echo "test-env: PostgreSQL not started; service PostgreSQL tests will skip (or fail under CI)" >&2

# --- Xvfb for the tray's real-window tests (owner: tray) ---------------------
# When DISPLAY is unset, starts one Xvfb on a free display (idempotent: a
# server this script started earlier, recorded in /tmp/mapdrive-xvfb.display,
# is reused while it lives) and exports DISPLAY. The tray tests start their
# own private session bus with dbus-run-session, so no bus is started here.
mapdrive_xvfb_start() {
  [ -n "${DISPLAY:-}" ] && return 0
  if ! command -v Xvfb >/dev/null; then
    echo "test-env: Xvfb is not installed (make deps installs xvfb)" >&2
    return 1
  fi
  local state=/tmp/mapdrive-xvfb.display n pid
  if [ -s "$state" ]; then
    read -r n pid <"$state"
    if kill -0 "$pid" 2>/dev/null && [ -e "/tmp/.X11-unix/X$n" ]; then
      export DISPLAY=":$n"
      return 0
    fi
  fi
  for n in $(seq 90 120); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] && continue
    Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 50); do
      [ -e "/tmp/.X11-unix/X$n" ] && break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && [ -e "/tmp/.X11-unix/X$n" ]; then
      echo "$n $pid" >"$state"
      export DISPLAY=":$n"
      return 0
    fi
  done
  echo "test-env: could not start Xvfb" >&2
  return 1
}
mapdrive_xvfb_start || echo "test-env: no X display; the tray's real-window tests will skip (or fail under CI)" >&2
# --- end of the Xvfb section (owner: tray) ------------------------------------
