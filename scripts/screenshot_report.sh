#!/usr/bin/env bash
# Screenshot of a report page in headless Chromium (Debian: apt-get install -y chromium), to look at it.
#
#   scripts/screenshot_report.sh results/<sweep>/report.html [out.png] [width] [height]
#   scripts/screenshot_report.sh results/<sweep>/report_files/images/kodim01.html kodim01.png 1280 2400
#
# Default output: <page>_screenshot.png beside the page; window 1280 x 2000 CSS px. A fresh, empty
# profile folder per run (removed afterwards); Chromium's background networking, component updates,
# sync and QUIC are off. `bench report <sweep> --screenshot` does the same and also checks that no
# table widens the page.
set -euo pipefail
page=${1:?usage: $0 PAGE.html [OUT.png] [WIDTH] [HEIGHT]}
out=${2:-${page%.html}_screenshot.png}
width=${3:-1280}
height=${4:-2000}
exe=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$exe" ]; then
  echo "error: headless Chromium not found (Debian: apt-get install -y chromium)" >&2
  exit 2
fi
[ -f "$page" ] || { echo "error: $page: no such page" >&2; exit 2; }
profile=$(mktemp -d -t bench-chromium-XXXXXX)
trap 'rm -rf "$profile"' EXIT
abs_page=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
case "$out" in /*) abs_out=$out ;; *) abs_out=$PWD/$out ;; esac
rm -f "$abs_out"
"$exe" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --window-size="$width,$height" --screenshot="$abs_out" "file://$abs_page" >/dev/null 2>&1 || true
[ -s "$abs_out" ] || { echo "error: chromium wrote no screenshot of $page" >&2; exit 1; }
echo "screenshot: $abs_out (${width}x${height})"
