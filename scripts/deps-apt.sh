#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need.
# Idempotent: only missing packages are installed, and apt-get update runs
# only when something is missing.
set -euo pipefail
pkgs=(
  build-essential pkg-config git ca-certificates curl
  fuse3 libfuse3-dev                   # FUSE 3 for cgofuse on Linux (the fuse3 build tag; fuse3 replaces fuse)
  libfuse-dev                          # FUSE 2 headers: a build without the tag (go test with no GOFLAGS) still compiles
  postgresql postgresql-client         # the service's production database
  chromium chromium-driver             # portal browser tests
  xvfb xauth x11-utils imagemagick     # tray real-window test and screenshots
  libgl1-mesa-dev xorg-dev             # fyne's cgo build
  dbus dbus-x11 gnome-keyring libsecret-tools  # Secret Service keyring tests
  msitools wixl gcc-mingw-w64-x86-64 osslsigncode dpkg-dev wine64  # installers (wine64: MSI install test)
  fio                                  # make bench: random and parallel reads through the mount
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run 'make deps' as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
