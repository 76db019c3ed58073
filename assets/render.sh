#!/usr/bin/env bash
# Renders assets/mapdrive.svg into the PNG sizes the tray, the .deb and the
# MSI use, and into a multi-size mapdrive.ico for Windows. The outputs are
# committed, so builds need neither rsvg-convert nor ImageMagick; run this
# only after changing the SVG.
set -euo pipefail
cd "$(dirname "$0")"
sizes=(16 32 48 64 128 256)
for s in "${sizes[@]}"; do
  rsvg-convert -w "$s" -h "$s" mapdrive.svg -o "mapdrive-$s.png"
done
cp mapdrive-256.png mapdrive.png
convert mapdrive-16.png mapdrive-32.png mapdrive-48.png mapdrive-64.png mapdrive-128.png mapdrive-256.png mapdrive.ico
