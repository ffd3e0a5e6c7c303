#!/usr/bin/env bash
# Screenshots of report.html for two samples, for docs/img/ (docs/previews.md says how).
# Runs `vidpipe local run` on each sample (frame-extract and landmarks; rekognition, emulated,
# for the sports clip), then Debian's headless chromium takes a full-page screenshot of the
# report. Needs the samples (../shared/samples or $VIDPIPE_SAMPLES) and `chromium`.
#
# Usage: scripts/report_screenshots.sh [OUT_DIR]   (default: a temp dir; PNGs go to docs/img/)
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${VIDPIPE_SAMPLES:-../shared/samples}"
work="${1:-$(mktemp -d)}"
vidpipe=".venv/bin/vidpipe"

shoot() {  # shoot NAME HEIGHT: the report in $work/NAME to docs/img/report-NAME.png
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$work/chromium-$1" --hide-scrollbars --window-size="1280,$2" \
    --screenshot="docs/img/report-$1.png" "file://$(realpath "$work/$1/report.html")" 2>/dev/null
}

"$vidpipe" local run "$samples/documentary_cuts.mp4" --shortcode documentary_cuts \
  --stage frame-extract --stage landmarks --out "$work/documentary_cuts"
shoot documentary_cuts 3000
"$vidpipe" local run "$samples/sports2d_demo.mp4" --shortcode sports2d_demo \
  --stage frame-extract --stage landmarks --stage rekognition --out "$work/sports2d_demo"
shoot sports2d_demo 3600
echo "screenshots: docs/img/report-documentary_cuts.png docs/img/report-sports2d_demo.png"
