#!/usr/bin/env bash
# `make test`: installs what the tests need, then runs them in timed steps.
#
#   deps   make deps (Debian packages, Go modules; idempotent) and gotestsum
#   vet    make vet
#   build  make bin: the four binaries, once, into bin/ (tests take them through
#          MAPDRIVE_TEST_BIN; see shared/testbin)
#   dist   the release artifacts (MSI, .deb, tarballs), once, signed with a
#          throwaway CA, into artifacts/test-dist (MAPDRIVE_TEST_DIST; the
#          distcheck tests check them and never rebuild them)
#   test   every package with the race detector, through gotestsum, which
#          ends with a count of skipped tests and names each one
#   big    the 1 GiB round trips through FUSE, without the race detector
#
# Building before testing keeps compilation off every test's timer, and all
# steps share one Go build cache, so a warm cache skips what it already has.
# dist runs beside vet and build (its time overlaps theirs).
# Per-step times are printed at the end and kept in artifacts/test-times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH
export GOFLAGS=${GOFLAGS:--buildvcs=false -tags=fuse3}
REPO=$PWD
# A shell that sourced demo/env.sh holds the desktop client's MAPDRIVE_*
# settings. The Go tests clear them on their own (shared/hermetic); unset
# them here too, for every other program this script runs. The harness's
# own MAPDRIVE_TEST_* stay.
for v in $(compgen -e); do
  case $v in MAPDRIVE_TEST_*) ;; MAPDRIVE*) unset "$v" ;; esac
done
GOTESTSUM_VERSION=1.13.0
mkdir -p artifacts
TIMES=artifacts/test-times.txt
: > "$TIMES"
START=$SECONDS

# step NAME CMD...: runs CMD, recording how long it took.
step() {
  local name=$1 t0=$SECONDS rc=0
  shift
  echo "test.sh: [$((SECONDS - START))s] $name ..." >&2
  "$@" || rc=$?
  printf '%-6s %5ds%s\n' "$name" $((SECONDS - t0)) "$([ $rc = 0 ] || echo "  FAILED (exit $rc)")" >> "$TIMES"
  return $rc
}

summary() {
  # A step that failed leaves dist running in the background: stop it
  # and the script it runs.
  if [ -n "${DIST_PID:-}" ]; then pkill -P "$DIST_PID" 2>/dev/null; kill "$DIST_PID" 2>/dev/null; fi
  printf '%-6s %5ds\n' total $((SECONDS - START)) >> "$TIMES"
  echo "test.sh: step times (also in $TIMES):" >&2
  sed 's/^/  /' "$TIMES" >&2
}
trap summary EXIT

deps() {
  make --no-print-directory deps
  # gotestsum runs go test and ends with a summary that names every
  # skipped and failed test. Pinned; installed only when missing.
  if [ "$(gotestsum --version 2>/dev/null)" != "gotestsum version v$GOTESTSUM_VERSION" ]; then
    GOWORK=off GOFLAGS= go install "gotest.tools/gotestsum@v$GOTESTSUM_VERSION"
  fi
}

dist() {
  local d=$REPO/artifacts/test-dist
  rm -rf "$d"
  mkdir -p "$d"
  bash scripts/dist.sh dev-cert "$d/sign" >/dev/null
  MAPDRIVE_DIST_DIR=$d/dist MAPDRIVE_SIGN_CERT=$d/sign/signing.pem MAPDRIVE_SIGN_KEY=$d/sign/signing.key \
    MAPDRIVE_SIGN_CAFILE=$d/sign/ca.pem MAPDRIVE_SIGN_REQUIRED=1 MAPDRIVE_DEB_XZ_LEVEL=1 \
    bash scripts/dist.sh >"$d/dist.log" 2>&1 || { tail -n 40 "$d/dist.log" >&2; return 1; }
  grep '^dist: \[' "$d/dist.log" >&2 || true
}

gotest() {
  # The services the integration tests need (PostgreSQL, Xvfb).
  source scripts/test-env.sh
  MAPDRIVE_TEST_BIN=$REPO/bin MAPDRIVE_TEST_DIST=$REPO/artifacts/test-dist \
    gotestsum --format standard-quiet --jsonfile artifacts/go-test.json -- \
    -race -count=1 -timeout 30m ./shared/... ./client/... ./service/... 2>&1 | tee artifacts/go-test.log
  return "${PIPESTATUS[0]}"
}

# big moves 1 GiB through a real FUSE mount, to the in-memory remote and
# to m365sim, and reads it back cold, without the race detector: under
# -race those tests use 128 MiB, since the detector slows the read path
# about tenfold and finds its races as well in the smaller file.
big() {
  source scripts/test-env.sh
  MAPDRIVE_TEST_BIN=$REPO/bin gotestsum --format standard-quiet --jsonfile artifacts/go-test-big.json -- \
    -count=1 -timeout 20m -run '^(TestMountRoundTripByHash|TestSimMountShellOperationsAndRoundTrip|TestSimMountBandwidthLimit)$' \
    ./client/internal/fusefs/ 2>&1 | tee artifacts/go-test-big.log
  return "${PIPESTATUS[0]}"
}

step deps deps
# The release artifacts build beside vet and build: the Windows tray is
# mostly one serial cgo compile (mingw), which leaves a core free that vet
# fills. Both share the one Go build cache. go test waits for both.
step dist dist &
DIST_PID=$!
step vet make --no-print-directory vet
step build make --no-print-directory bin
wait "$DIST_PID" || { DIST_PID=; echo "test.sh: the dist step failed (artifacts/test-dist/dist.log)" >&2; exit 1; }
DIST_PID=
step test gotest
step big big
