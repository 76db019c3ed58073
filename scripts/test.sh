#!/usr/bin/env bash
# Runs every test of every module with the race detector. The services the
# integration tests need are started here so CI and developers run the same.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-env.sh
mkdir -p artifacts
go test -race -count=1 -timeout 30m ./shared/... ./client/... ./service/... 2>&1 | tee artifacts/go-test.log
