#!/usr/bin/env bash
# Refreshes the vendored htmx (static/htmx.min.js and its licence) from the
# npm registry. Usage: service/internal/portal/vendor-htmx.sh [VERSION]
# (default: the version pinned below). Commit the result; the portal embeds
# static/ at build time, so builds need no network.
set -euo pipefail
VERSION=${1:-2.0.11}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@$VERSION" >/dev/null && tar xzf htmx.org-"$VERSION".tgz)
cp "$tmp/package/dist/htmx.min.js" "$here/static/htmx.min.js"
cp "$tmp/package/LICENSE" "$here/static/htmx.LICENSE.txt"
printf '%s\n' "$VERSION" > "$here/static/htmx.VERSION.txt"
sha256sum "$here/static/htmx.min.js"
