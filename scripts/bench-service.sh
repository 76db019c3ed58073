#!/usr/bin/env bash
# Service benchmarks (issue 5): licence validations and mapping fetches per
# second with p50/p99 latency over loopback TLS, on SQLite and PostgreSQL.
# Prints the go test -bench lines; nothing is asserted. MAPDRIVE_BENCH_PARALLELISM
# sets concurrent clients per CPU (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-env.sh
mkdir -p artifacts
go test -run XXX -bench . -benchtime "${BENCHTIME:-5s}" ./service/internal/api/ 2>&1 | tee artifacts/bench-service.log | grep -E 'req/s|^ok|FAIL'
