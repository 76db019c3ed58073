#!/usr/bin/env bash
# Sourced by test.sh and bench.sh: starts the local services that tests use
# and exports where to find them. Each start is idempotent.
export MAPDRIVE_REPO="$(pwd)"
