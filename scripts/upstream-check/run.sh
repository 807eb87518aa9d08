#!/usr/bin/env bash
# npm run upstream:check: the upstream PR series (upstream/) applied to the published npm releases, checked.
#
# Builds a temporary copy of this repository where node_modules/webtorrent and bittorrent-protocol are the
# npm releases with the series' source part applied, and node_modules/pristine-webtorrent the releases as
# published (prepare.sh), then runs check.test.ts there: one line per check, ending "N passed, N failed".
# Only the npm registry is contacted (npm pack). The repository itself is not touched.
#
#   UPSTREAM_CHECK_SUITE=full   also run webtorrent-node's whole test suite over the patched releases
#                               (default: its upstream-facing files; see README "Upstream PR series")
#   KEEP_TMP=1                  keep the temporary tree
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/upstream-check.XXXXXX")"
cleanup () {
  if [[ "${KEEP_TMP:-}" == 1 ]]; then echo "upstream-check: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source "$repo/scripts/upstream-check/prepare.sh"

cd "$tmp/repo"
status=0
npx mocha --config scripts/upstream-check/.mocharc.json || status=1
exit $status
