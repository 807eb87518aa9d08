#!/usr/bin/env bash
# Builds the temporary tree `npm run upstream:check` runs in (sourced by run.sh; $repo and $tmp are set).
#
# - npm pack the pristine bittorrent-protocol and webtorrent releases (the npm registry only);
# - copy this repository (sources copied, node_modules hard-linked: nothing is written through the links);
# - node_modules/webtorrent and node_modules/bittorrent-protocol: the releases with the source part of
#   upstream/*/ applied (index.js, mse.js, lib/, and the series' new test files; upstream/README.md says why
#   test/mse.js, package.json and docs/ are left out: the tarballs do not ship them);
# - node_modules/pristine-webtorrent (with its own pristine-bittorrent-protocol): the releases as published.
set -euo pipefail

BP_VERSION=5.0.9
WT_VERSION=3.0.21

say () { printf 'upstream-check: %s\n' "$*" >&2; }

mkdir -p "$tmp/pack" "$tmp/repo"
say "npm pack bittorrent-protocol@$BP_VERSION webtorrent@$WT_VERSION"
(cd "$tmp/pack" && npm pack --silent --prefer-offline "bittorrent-protocol@$BP_VERSION" "webtorrent@$WT_VERSION" >/dev/null)

say "copying the repository to $tmp/repo"
tar -C "$repo" --exclude=./.git --exclude=./node_modules --exclude='./packages/*/node_modules' -cf - . | tar -C "$tmp/repo" -xf -
cp -al "$repo/node_modules" "$tmp/repo/node_modules"
for dir in "$repo"/packages/*/node_modules; do
  [ -d "$dir" ] && cp -al "$dir" "$tmp/repo/${dir#"$repo"/}"
done

nm="$tmp/repo/node_modules"
unpack () { # unpack <tarball> <dir>
  rm -rf "$2" && mkdir -p "$2" && tar -xzf "$1" --strip-components=1 -C "$2"
}
apply_series () { # apply_series <package dir> <series dir>
  local patch
  for patch in "$2"/*.patch; do
    # The tarballs ship no test/mse.js, no docs/ and a rewritten package.json; everything else applies as is.
    (cd "$1" && git apply --exclude=test/mse.js --exclude=package.json --exclude='docs/*' "$patch") ||
      { say "$(basename "$patch") does not apply to $(basename "$1")"; exit 3; }
  done
}

# webtorrent's own nested dependencies (npm put a second streamx there): keep them for both copies
wt_nested="$tmp/wt-nested"
mkdir -p "$wt_nested"
[ -d "$nm/webtorrent/node_modules" ] && cp -al "$nm/webtorrent/node_modules/." "$wt_nested/"

unpack "$tmp/pack/bittorrent-protocol-$BP_VERSION.tgz" "$nm/bittorrent-protocol"
unpack "$tmp/pack/webtorrent-$WT_VERSION.tgz" "$nm/webtorrent"
unpack "$tmp/pack/bittorrent-protocol-$BP_VERSION.tgz" "$nm/pristine-bittorrent-protocol"
unpack "$tmp/pack/webtorrent-$WT_VERSION.tgz" "$nm/pristine-webtorrent"
for wt in webtorrent pristine-webtorrent; do
  mkdir -p "$nm/$wt/node_modules"
  cp -al "$wt_nested/." "$nm/$wt/node_modules/"
done
ln -s ../../pristine-bittorrent-protocol "$nm/pristine-webtorrent/node_modules/bittorrent-protocol"

say "applying upstream/bittorrent-protocol/*.patch and upstream/webtorrent/*.patch"
apply_series "$nm/bittorrent-protocol" "$repo/upstream/bittorrent-protocol"
apply_series "$nm/webtorrent" "$repo/upstream/webtorrent"
