#!/usr/bin/env bash
# Runs the Playwright dashboard suite (e2e/) against a real artifactapi; run it
# under scripts/with-services.sh, which provides PostgreSQL, Redis and MinIO.
# Uses Debian's Chromium (/usr/bin/chromium); never downloads browsers.
set -euo pipefail
cd "$(dirname "$0")/../e2e"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund
npx playwright test "$@"
