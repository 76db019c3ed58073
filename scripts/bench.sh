#!/usr/bin/env bash
# make bench: every benchmark of the product, reported in artifacts/bench/
# as markdown (README.md, one section per part) and JSON (bench.json).
#
#   service: licence validations and mapping fetches per second, p50/p99,
#            SQLite and PostgreSQL (scripts/bench-service.sh; issue 5)
#   mount:   the issue 4 table, the FUSE mount against direct Graph calls
#            (BenchmarkIssue4 in client/internal/fusefs; writes vfs.md/json)
#
# Environment: BENCHTIME (service, default 5s); MAPDRIVE_BENCH_SIZE,
# MAPDRIVE_BENCH_FOLDER, MAPDRIVE_BENCH_ITEMS (mount; see the benchmark).
# A part whose benchmark fails is reported as failed; the script then exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source scripts/test-env.sh
out=$PWD/artifacts/bench
mkdir -p "$out"
rm -f "$out"/service.md "$out"/service.json
status=0
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- service ------------------------------------------------------------------
echo "bench: service (licence validations, mapping fetches)…"
if bash scripts/bench-service.sh >/dev/null; then
  # Benchmark lines: name-N iters ns/op p50 p50-ms p99 p99-ms rate req/s
  awk '
    /^Benchmark/ {
      name=$1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
      p50=""; p99=""; rps=""
      for (i = 2; i <= NF; i++) {
        if ($i == "p50-ms") p50 = $(i-1)
        if ($i == "p99-ms") p99 = $(i-1)
        if ($i == "req/s") rps = $(i-1)
      }
      n++; names[n]=name; p50s[n]=p50; p99s[n]=p99; rpss[n]=rps
    }
    END {
      md = "| Benchmark | Requests/s | p50 (ms) | p99 (ms) |\n|---|---|---|---|\n"
      js = "["
      for (i = 1; i <= n; i++) {
        md = md sprintf("| %s | %s | %s | %s |\n", names[i], rpss[i], p50s[i], p99s[i])
        js = js sprintf("%s{\"name\":\"%s\",\"req_per_s\":%s,\"p50_ms\":%s,\"p99_ms\":%s}", (i > 1 ? "," : ""), names[i], rpss[i], p50s[i], p99s[i])
      }
      printf "%s", md > mdfile
      printf "%s]\n", js > jsfile
    }' mdfile="$out/service.md" jsfile="$out/service.json" artifacts/bench-service.log
  echo "bench: service done"
else
  echo "bench: the service benchmark FAILED (artifacts/bench-service.log)" >&2
  status=1
fi

# --- mount --------------------------------------------------------------------
if grep -qs '^func BenchmarkIssue4' client/internal/fusefs/*_test.go; then
  echo "bench: mount versus direct Graph (this takes several minutes)…"
  rm -f "$out"/vfs.md "$out"/vfs.json
  if MAPDRIVE_BENCH_OUT=$out go test -run '^$' -bench Issue4 -benchtime 1x -timeout 60m ./client/internal/fusefs/ \
    >artifacts/bench-vfs.log 2>&1 && [ -s "$out/vfs.md" ]; then
    echo "bench: mount done"
  else
    echo "bench: the mount benchmark FAILED (artifacts/bench-vfs.log)" >&2
    status=1
  fi
else
  echo "bench: no mount benchmark (BenchmarkIssue4) in client/internal/fusefs; skipped" >&2
fi

# --- report -------------------------------------------------------------------
{
  echo "# Mapdrive benchmarks"
  echo
  echo "Run by \`make bench\` from $started to $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) CPUs ($(uname -sr)), $(go version | awk '{print $3}')."
  echo
  echo "## Service: licence validations and mapping fetches (loopback TLS, parallel clients)"
  echo
  if [ -s "$out/service.md" ]; then cat "$out/service.md"; else echo "Not measured: the benchmark failed."; fi
  echo
  echo "## Mount versus direct Graph calls (m365sim over loopback TLS)"
  echo
  if [ -s "$out/vfs.md" ]; then awk 'NR == 1 && /^# / { skip = 1; next } skip && /^$/ { skip = 0; next } { skip = 0; print }' "$out/vfs.md"; else echo "Not measured in this run."; fi
} >"$out/README.md"
{
  printf '{"started":"%s","cpus":%s,\n"service":' "$started" "$(nproc)"
  if [ -s "$out/service.json" ]; then cat "$out/service.json"; else echo null; fi
  printf ',\n"mount":'
  if [ -s "$out/vfs.json" ]; then cat "$out/vfs.json"; else echo null; fi
  echo "}"
} >"$out/bench.json"
echo "bench: report in $out/README.md and $out/bench.json"
exit $status
