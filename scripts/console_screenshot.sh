#!/usr/bin/env bash
# A screenshot of the web console showing a finished video, for docs/img/console.png
# (docs/api.md). Starts `vidpipe local serve`, uploads documentary_cuts.mp4 with the curl steps of
# docs/api.md, waits for its plan, and lets Debian's headless chromium render the console at
# #demo/cuts1. Needs the samples (../shared/samples or $VIDPIPE_SAMPLES), chromium, curl and jq.
#
# Usage: scripts/console_screenshot.sh [PORT]   (default 8765)
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${VIDPIPE_SAMPLES:-../shared/samples}"
port="${1:-8765}"
work="$(mktemp -d)"
API="http://127.0.0.1:$port"

.venv/bin/vidpipe local serve --port "$port" --state-dir "$work/state" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill -INT "$server"; wait "$server" || true' EXIT
until curl -fsS "$API/health" >/dev/null 2>&1; do sleep 0.5; done

curl -sS -X POST "$API/videos" -H 'content-type: application/json' -d '{
  "platform": "demo", "shortcode": "cuts1", "filename": "documentary_cuts.mp4",
  "content_type": "video/mp4", "size_bytes": '"$(stat -c %s "$samples/documentary_cuts.mp4")"',
  "stages": ["frame-extract", "landmarks"]}' >"$work/ticket.json"
# shellcheck disable=SC2046  # one -F per field, as docs/api.md does
curl -fsS $(jq -r '.upload.fields | to_entries[] | "-F \(.key)=\(.value)"' "$work/ticket.json") \
  -F "file=@$samples/documentary_cuts.mp4" "$(jq -r .upload.url "$work/ticket.json")"
until curl -sS "$API/videos/demo/cuts1" | jq -e '.report_url != null' >/dev/null; do sleep 1; done

chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$work/chromium" \
  --hide-scrollbars --window-size=1280,2400 --virtual-time-budget=15000 \
  --screenshot=docs/img/console.png "$API/#demo/cuts1" 2>/dev/null
echo "screenshot: docs/img/console.png"
