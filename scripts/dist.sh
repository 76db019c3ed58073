#!/usr/bin/env bash
# Builds every Mapdrive release artifact from Linux (`make dist`):
#
#   dist/windows/mapdrive.exe, mapdrive-tray.exe   signed Windows binaries
#   dist/mapdrive-<v>-x64.msi                      signed per-machine MSI
#   dist/mapdrive_<v>_amd64.deb                    Debian/Ubuntu package
#   dist/mapdrive-service_<v>_linux_amd64.tar.gz   the service binary
#   dist/mapdrive_<v>_darwin_<arch>.tar.gz         macOS CLI+agent, where it builds
#   dist/admx/Mapdrive.admx, en-US/Mapdrive.adml   policy template for Intune/GPO
#   dist/msi-product-code.txt, dist/SHA256SUMS
#
# Usage:
#   scripts/dist.sh                  build everything (the default)
#   scripts/dist.sh msi VERSION BINDIR OUT.msi
#                                    package already built Windows binaries
#                                    as an MSI of VERSION (tests use it to make
#                                    older and newer packages)
#   scripts/dist.sh product-code VERSION
#                                    print the MSI ProductCode of VERSION
#   scripts/dist.sh dev-cert DIR     write a throwaway CA (ca.pem) and a
#                                    code-signing certificate it issued
#                                    (signing.pem, signing.key) into DIR;
#                                    make test signs its artifacts with it
#
# Environment:
#   MAPDRIVE_DIST_DIR         output folder (default: dist/)
#   MAPDRIVE_SIGN_PFX         PKCS#12 code-signing certificate and key, with
#   MAPDRIVE_SIGN_PASSWORD    its password, or
#   MAPDRIVE_SIGN_CERT        PEM certificate chain (leaf first) and
#   MAPDRIVE_SIGN_KEY         PEM private key (unencrypted)
#   MAPDRIVE_SIGN_CAFILE      CA bundle to verify the signatures against
#   MAPDRIVE_SIGN_TIMESTAMP_URL  RFC 3161 timestamp server (release builds)
#   MAPDRIVE_DEB_XZ_LEVEL     xz level of the .deb (default 6; the tests use 1,
#                             four times faster and 10% larger)
#   MAPDRIVE_SIGN_REQUIRED=1  fail when no certificate is given (release
#                             builds); otherwise a throwaway development
#                             certificate is made and a warning printed
#
# Versions: the VERSION file gives x.y.z[-pre]. Binaries and the .deb carry
# it whole (the .deb as x.y.z~pre); the MSI carries x.y.z, since Windows
# Installer versions are numeric.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export GOFLAGS=${GOFLAGS:--buildvcs=false -tags=fuse3}

WIN_CC=x86_64-w64-mingw32-gcc

die() { echo "dist: $*" >&2; exit 1; }
say() { echo "dist: [${SECONDS}s] $*" >&2; }

need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing: run 'make deps' (it installs msitools, wixl, osslsigncode, gcc-mingw-w64-x86-64, dpkg-dev)"
  done
}

read_version() {
  local v
  v=$(tr -d ' \t\r\n' < "$REPO/VERSION")
  [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || die "VERSION '$v' is not x.y.z or x.y.z-pre"
  echo "$v"
}

deb_version() { echo "${1/-/\~}"; }

# The MSI identifiers (ProductVersion, each version's ProductCode, the
# UpgradeCode that ties every Mapdrive MSI together) are defined once, in
# shared/version; this script asks shared/cmd/mapdrive-release for them
# rather than computing them again.
release_id() { go run ./shared/cmd/mapdrive-release "$@"; }
msi_version() { release_id msi-version "$1"; }
product_code() { release_id product-code "$1"; }

# ---------------------------------------------------------------- signing

SIGN_ARGS=()
SIGN_CAFILE=""
SIGN_TMP=""

setup_signing() {
  local out=$1
  SIGN_TMP=$(mktemp -d)
  trap 'rm -rf "$SIGN_TMP"' EXIT
  if [ -n "${MAPDRIVE_SIGN_PFX:-}" ]; then
    [ -f "$MAPDRIVE_SIGN_PFX" ] || die "MAPDRIVE_SIGN_PFX=$MAPDRIVE_SIGN_PFX: no such file"
    # The password goes through a 0600 file, never the command line.
    (umask 077; printf '%s' "${MAPDRIVE_SIGN_PASSWORD:-}" > "$SIGN_TMP/pass")
    SIGN_ARGS=(-pkcs12 "$MAPDRIVE_SIGN_PFX" -readpass "$SIGN_TMP/pass")
    SIGN_CAFILE=${MAPDRIVE_SIGN_CAFILE:-}
    say "signing with $MAPDRIVE_SIGN_PFX"
  elif [ -n "${MAPDRIVE_SIGN_CERT:-}" ]; then
    [ -f "$MAPDRIVE_SIGN_CERT" ] || die "MAPDRIVE_SIGN_CERT=$MAPDRIVE_SIGN_CERT: no such file"
    [ -f "${MAPDRIVE_SIGN_KEY:-}" ] || die "MAPDRIVE_SIGN_KEY must name the PEM key of MAPDRIVE_SIGN_CERT"
    SIGN_ARGS=(-certs "$MAPDRIVE_SIGN_CERT" -key "$MAPDRIVE_SIGN_KEY")
    SIGN_CAFILE=${MAPDRIVE_SIGN_CAFILE:-}
    say "signing with $MAPDRIVE_SIGN_CERT"
  elif [ "${MAPDRIVE_SIGN_REQUIRED:-0}" = 1 ]; then
    die "MAPDRIVE_SIGN_REQUIRED=1 but neither MAPDRIVE_SIGN_PFX nor MAPDRIVE_SIGN_CERT/MAPDRIVE_SIGN_KEY is set"
  else
    dev_certificate "$out/dev-signing"
    SIGN_ARGS=(-certs "$out/dev-signing/signing.pem" -key "$out/dev-signing/signing.key")
    SIGN_CAFILE=$out/dev-signing/ca.pem
    say "WARNING: no signing certificate given; signed with a throwaway development"
    say "WARNING: certificate ($out/dev-signing). Windows will not trust these files."
  fi
  if [ -n "${MAPDRIVE_SIGN_TIMESTAMP_URL:-}" ]; then
    SIGN_ARGS+=(-ts "$MAPDRIVE_SIGN_TIMESTAMP_URL")
  fi
}

# dev_certificate DIR makes a throwaway CA and a code-signing certificate it
# issued, unless DIR already holds them.
dev_certificate() {
  local d=$1
  [ -f "$d/signing.pem" ] && [ -f "$d/signing.key" ] && [ -f "$d/ca.pem" ] && return 0
  need openssl
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:3072 -nodes -days 30 -subj "/CN=Mapdrive Development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:3072 -nodes -subj "/CN=Mapdrive Development Code Signing" \
    -keyout "$d/signing.key" -out "$d/signing.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=codeSigning" > "$d/ext.cnf"
  openssl x509 -req -in "$d/signing.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 30 -extfile "$d/ext.cnf" -out "$d/signing.leaf.pem" 2>/dev/null
  # The chain goes into the signature, so a verifier needs only the root.
  cat "$d/signing.leaf.pem" "$d/ca.pem" > "$d/signing.pem"
  chmod 0600 "$d/signing.key" "$d/ca.key"
  rm -f "$d/signing.csr" "$d/ext.cnf" "$d/ca.srl" "$d/signing.leaf.pem"
}

# sign FILE signs a PE or MSI file in place with Authenticode (SHA-256) and
# verifies the signature against the CA when one is known.
sign() {
  local f=$1
  osslsigncode sign "${SIGN_ARGS[@]}" -h sha256 -n "Mapdrive" -i "https://github.com/mapdrive/mapdrive" \
    -in "$f" -out "$f.signed" >"$SIGN_TMP/sign.log" 2>&1 || { cat "$SIGN_TMP/sign.log" >&2; die "signing $f failed"; }
  mv -f "$f.signed" "$f"
  if [ -n "$SIGN_CAFILE" ]; then
    osslsigncode verify -CAfile "$SIGN_CAFILE" -in "$f" >"$SIGN_TMP/verify.log" 2>&1 ||
      { cat "$SIGN_TMP/verify.log" >&2; die "signature of $f does not verify against $SIGN_CAFILE"; }
  fi
}

# ---------------------------------------------------------------- builds

# gobuild OUT PKG [extra go build args...] builds PKG with the version stamp,
# saying clearly which binary failed.
gobuild() {
  local out=$1 pkg=$2; shift 2
  local ldflags="-s -w -X github.com/mapdrive/mapdrive/shared/version.Version=$VERSION"
  if [ "${1:-}" = "--ldflags" ]; then ldflags="$ldflags $2"; shift 2; fi
  local dir=$REPO
  if [[ $pkg == /* ]]; then
    # A stand-in main package in a module of its own (MAPDRIVE_PKG_*).
    dir=$pkg pkg=.
  fi
  ls "$dir/${pkg#./}"/*.go >/dev/null 2>&1 || die "$pkg has no Go files yet: cannot build $(basename "$out")"
  go -C "$dir" build -ldflags "$ldflags" "$@" -o "$out" "$pkg" ||
    die "building $pkg for ${GOOS:-linux}/${GOARCH:-amd64} failed (see above)"
}

# winres writes the version resource, the icon and the manifest of a
# Windows binary as a .syso in PKG's directory, which go build links into
# GOOS=windows builds only (go-winres, pinned). Explorer's Properties then
# show the same version as `mapdrive.exe version`.
WINRES=github.com/tc-hib/go-winres@v0.3.3
winres() {
  local pkg=$1 exe=$2 manifest=$3 desc=$4 dir
  dir=$pkg
  [[ $pkg == /* ]] || dir=$REPO/${pkg#./}
  local filever
  filever="$(msi_version "$VERSION" | awk -F. '{printf "%d.%d.%d.0", $1, $2, $3}')"
  go -C "$REPO/shared" run "$WINRES" simply --arch amd64 --out "$dir/zz_winres" \
    --icon "$REPO/assets/mapdrive.ico" --manifest "$manifest" \
    --file-version "$filever" --product-version "$filever" --product-name Mapdrive \
    --file-description "$desc" --original-filename "$exe" --copyright "Mapdrive" ||
    die "writing the version resource of $exe failed (go run $WINRES)"
  WINRES_FILES+=("$dir/zz_winres_windows_amd64.syso")
}
WINRES_FILES=()
remove_winres() { rm -f "${WINRES_FILES[@]}"; }

# build_windows builds the two Windows binaries side by side: the agent is
# pure Go (the Graph SDK dominates), the tray is mostly serial cgo compiles
# with mingw (GLFW, GL) that keep one core busy, so the two overlap instead
# of the agent's compile waiting for the tray's.
build_windows() {
  local bin=$1 logs pa pt rc=0
  mkdir -p "$bin"
  logs=$(mktemp -d)
  winres "$PKG_CLI" mapdrive.exe cli "Mapdrive agent and command line"
  winres "$PKG_TRAY" mapdrive-tray.exe gui "Mapdrive"
  say "windows/amd64: mapdrive.exe (CGO_ENABLED=0) and mapdrive-tray.exe (cgo, $WIN_CC), in parallel"
  (GOOS=windows GOARCH=amd64 CGO_ENABLED=0 gobuild "$bin/mapdrive.exe" "$PKG_CLI") >"$logs/cli" 2>&1 &
  pa=$!
  (GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=$WIN_CC \
    gobuild "$bin/mapdrive-tray.exe" "$PKG_TRAY" --ldflags "-H windowsgui") >"$logs/tray" 2>&1 &
  pt=$!
  wait "$pa" || { rc=1; cat "$logs/cli" >&2; }
  say "windows/amd64: mapdrive.exe done"
  wait "$pt" || { rc=1; cat "$logs/tray" >&2; }
  say "windows/amd64: mapdrive-tray.exe done"
  rm -rf "$logs"
  remove_winres
  [ $rc = 0 ] || die "a Windows build failed (see above)"
}

build_linux() {
  local bin=$1
  mkdir -p "$bin"
  say "linux/amd64: mapdrive"
  GOOS=linux GOARCH=amd64 CGO_ENABLED=1 gobuild "$bin/mapdrive" "$PKG_CLI"
  say "linux/amd64: mapdrive-tray"
  GOOS=linux GOARCH=amd64 CGO_ENABLED=1 gobuild "$bin/mapdrive-tray" "$PKG_TRAY"
  say "linux/amd64: mapdrive-service"
  GOOS=linux GOARCH=amd64 gobuild "$bin/mapdrive-service" "$PKG_SERVICE"
}

# build_darwin tries the macOS CLI+agent without cgo. cgofuse needs cgo on
# macOS, and there is no macOS C toolchain here, so this works only while
# the mount code is left out of non-cgo darwin builds. A failure is
# reported, recorded in darwin-UNAVAILABLE.txt, and is not fatal. When the
# CLI imports cgofuse, that small package is built alone first, so a
# failure costs seconds rather than a full compile of the Graph SDK.
build_darwin() {
  local out=$1 arch log src=$REPO pkg=$PKG_CLI
  [[ $pkg == /* ]] && src=$pkg pkg=.
  rm -f "$out/darwin-UNAVAILABLE.txt"
  for arch in arm64 amd64; do
    local dir="$out/darwin-$arch"
    mkdir -p "$dir"
    log=$(mktemp)
    local ok=1
    if GOOS=darwin GOARCH=$arch CGO_ENABLED=0 go -C "$src" list -deps "$pkg" 2>/dev/null | grep -qx 'github.com/winfsp/cgofuse/fuse'; then
      GOOS=darwin GOARCH=$arch CGO_ENABLED=0 go -C "$src" build -o /dev/null github.com/winfsp/cgofuse/fuse >"$log" 2>&1 || ok=0
    fi
    if [ $ok = 1 ] && GOOS=darwin GOARCH=$arch CGO_ENABLED=0 go -C "$src" build \
      -ldflags "-s -w -X github.com/mapdrive/mapdrive/shared/version.Version=$VERSION" \
      -o "$dir/mapdrive" "$pkg" >"$log" 2>&1; then
      tar -C "$dir" -czf "$out/mapdrive_${VERSION}_darwin_${arch}.tar.gz" mapdrive
      say "darwin/$arch: mapdrive built (CGO_ENABLED=0)"
    else
      {
        echo "darwin/$arch: $PKG_CLI does not build with CGO_ENABLED=0."
        echo "cgofuse needs cgo on macOS and this machine has no macOS SDK/clang."
        echo "See installer/macos/README.md. Compiler output (first lines):"
        head -n 15 "$log"
      } >> "$out/darwin-UNAVAILABLE.txt"
      say "darwin/$arch: not built (CGO_ENABLED=0 fails; see $out/darwin-UNAVAILABLE.txt)"
    fi
    rm -f "$log"
    rm -rf "$dir"
  done
}

# ---------------------------------------------------------------- MSI

# build_msi VERSION BINDIR OUT.msi: wixl, then the msibuild fix-ups, then sign.
build_msi() {
  local version=$1 bin=$2 msi=$3 mv pc uc stmt
  need wixl msibuild msiinfo osslsigncode
  mv=$(msi_version "$version")
  pc=$(product_code "$version")
  uc=$(release_id upgrade-code)
  [ -f "$bin/mapdrive.exe" ] || die "$bin/mapdrive.exe is missing"
  [ -f "$bin/mapdrive-tray.exe" ] || die "$bin/mapdrive-tray.exe is missing"
  mkdir -p "$(dirname "$msi")"
  rm -f "$msi"
  say "msi: $(basename "$msi") version $mv, ProductCode {$pc}"
  # wixl resolves sources relative to the .wxs and rejects absolute paths,
  # so the package is laid out in a staging folder first.
  local stage=$SIGN_TMP/msi-stage
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/assets"
  cp "$bin/mapdrive.exe" "$bin/mapdrive-tray.exe" "$stage/bin/"
  cp "$REPO/assets/mapdrive.ico" "$stage/assets/"
  cp "$REPO/installer/windows/mapdrive.wxs" "$stage/"
  (cd "$stage" && wixl -a x64 -D "Version=$mv" -D "ProductCode=$pc" -D "UpgradeCode=$uc" -D "BinDir=bin" \
    -D "AssetsDir=assets" -o "$msi" mapdrive.wxs) 2>"$SIGN_TMP/wixl.log" ||
    { cat "$SIGN_TMP/wixl.log" >&2; die "wixl failed"; }
  # wixl prints "unimplemented" notes for summary fields; anything else is news.
  grep -v -e 'unimplemented' -e '^$' "$SIGN_TMP/wixl.log" >&2 || true
  while IFS= read -r stmt; do
    [[ -z $stmt || $stmt == --* ]] && continue
    msibuild "$msi" -q "$stmt" || die "msibuild: '$stmt' failed"
  done < "$REPO/installer/windows/postbuild.sql"
  sign "$msi"
}

# ---------------------------------------------------------------- .deb

build_deb() {
  local bin=$1 out=$2 dv root deb depends
  need dpkg-deb dpkg-shlibdeps
  dv=$(deb_version "$VERSION")
  root=$(mktemp -d)
  chmod 0755 "$root"
  local L=$REPO/installer/linux
  install -D -m 0755 "$bin/mapdrive" "$root/usr/bin/mapdrive"
  install -D -m 0755 "$bin/mapdrive-tray" "$root/usr/bin/mapdrive-tray"
  install -D -m 0644 "$L/mapdrive.desktop" "$root/usr/share/applications/mapdrive.desktop"
  install -D -m 0644 "$L/mapdrive-tray-autostart.desktop" "$root/etc/xdg/autostart/mapdrive-tray.desktop"
  install -D -m 0644 "$L/mapdrive-agent.service" "$root/usr/lib/systemd/user/mapdrive-agent.service"
  install -D -m 0644 "$L/config.toml.example" "$root/usr/share/doc/mapdrive/config.toml.example"
  install -D -m 0644 "$L/copyright" "$root/usr/share/doc/mapdrive/copyright"
  install -D -m 0755 "$L/nautilus/Mapdrive/Copy link" "$root/usr/share/mapdrive/nautilus/Mapdrive/Copy link"
  local s
  for s in 16 32 48 64 128 256; do
    install -D -m 0644 "$REPO/assets/mapdrive-$s.png" "$root/usr/share/icons/hicolor/${s}x${s}/apps/mapdrive.png"
  done
  install -D -m 0644 "$REPO/assets/mapdrive.svg" "$root/usr/share/icons/hicolor/scalable/apps/mapdrive.svg"

  # Library dependencies of the binaries, as dpkg-shlibdeps finds them,
  # plus FUSE 3 (built with the fuse3 tag, cgofuse loads libfuse3.so.3; a user
  # who is not root mounts through fuse3's fusermount3).
  local shl
  shl=$(mktemp -d)
  mkdir -p "$shl/debian"
  printf 'Source: mapdrive\n\nPackage: mapdrive\nArchitecture: amd64\n' > "$shl/debian/control"
  depends=$(cd "$shl" && dpkg-shlibdeps -O --ignore-missing-info "$root/usr/bin/mapdrive" "$root/usr/bin/mapdrive-tray" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
  rm -rf "$shl"
  depends="${depends:+$depends, }fuse3, libfuse3-3"

  mkdir -p "$root/DEBIAN"
  sed -e "s/@VERSION@/$dv/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$root" | cut -f1)/" "$L/control.in" > "$root/DEBIAN/control"
  install -m 0755 "$L/postinst" "$root/DEBIAN/postinst"
  install -m 0755 "$L/prerm" "$root/DEBIAN/prerm"
  deb="$out/mapdrive_${dv}_amd64.deb"
  rm -f "$deb"
  dpkg-deb --root-owner-group -Zxz "-z${MAPDRIVE_DEB_XZ_LEVEL:-6}" --build "$root" "$deb" >/dev/null || die "dpkg-deb failed"
  rm -rf "$root"
  say "deb: $(basename "$deb")"
}

# ---------------------------------------------------------------- main

# For developing this script only: an absolute folder of a stand-in main
# package can replace each binary. Releases and tests use the real ones.
PKG_CLI=${MAPDRIVE_PKG_CLI:-./client/cmd/mapdrive}
PKG_TRAY=${MAPDRIVE_PKG_TRAY:-./client/cmd/mapdrive-tray}
PKG_SERVICE=${MAPDRIVE_PKG_SERVICE:-./service/cmd/mapdrive-service}

cmd=${1:-all}
case $cmd in
  product-code)
    [ $# -eq 2 ] || die "usage: dist.sh product-code VERSION"
    product_code "$2"
    exit 0
    ;;
  dev-cert)
    [ $# -eq 2 ] || die "usage: dist.sh dev-cert DIR"
    dev_certificate "$2"
    exit 0
    ;;
  msi)
    [ $# -eq 4 ] || die "usage: dist.sh msi VERSION BINDIR OUT.msi"
    VERSION=$2
    OUT=$(dirname "$4")
    mkdir -p "$OUT"
    setup_signing "${MAPDRIVE_DIST_DIR:-$REPO/dist}"
    build_msi "$2" "$(realpath "$3")" "$(realpath -m "$4")"
    exit 0
    ;;
  all) ;;
  *) die "unknown command '$cmd' (all, msi, product-code, dev-cert)" ;;
esac

need go wixl msibuild msiinfo osslsigncode "$WIN_CC" dpkg-deb dpkg-shlibdeps
VERSION=$(read_version)
OUT=$(realpath -m "${MAPDRIVE_DIST_DIR:-$REPO/dist}")
mkdir -p "$OUT"
say "version $VERSION into $OUT"
setup_signing "$OUT"

rm -rf "$OUT/windows" "$OUT/linux"
build_windows "$OUT/windows"
sign "$OUT/windows/mapdrive.exe"
sign "$OUT/windows/mapdrive-tray.exe"
MSI="$OUT/mapdrive-$(msi_version "$VERSION")-x64.msi"
build_msi "$VERSION" "$OUT/windows" "$MSI"
echo "{$(product_code "$VERSION")}" > "$OUT/msi-product-code.txt"
rm -rf "$OUT/admx"
cp -r "$REPO/installer/windows/admx" "$OUT/admx"

build_linux "$OUT/linux"
build_deb "$OUT/linux" "$OUT"
tar -C "$OUT/linux" -czf "$OUT/mapdrive-service_${VERSION}_linux_amd64.tar.gz" mapdrive-service

build_darwin "$OUT"

(cd "$OUT" && sha256sum -- *.msi *.deb *.tar.gz > SHA256SUMS)
say "done: MSI ProductCode $(cat "$OUT/msi-product-code.txt")"
ls -l "$OUT" >&2
