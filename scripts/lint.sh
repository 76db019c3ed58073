#!/usr/bin/env bash
# Static analysis with staticcheck, pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./shared/... ./client/... ./service/...
