#!/usr/bin/env bash
# release.sh VERSION DIR: static fed binaries for every release target,
# stamped with VERSION and the commit (fed --version), packed as
# DIR/fed_<version>_<os>_<arch>.tar.gz (.zip for windows) with README.md,
# plus DIR/SHA256SUMS. Refuses a modified checkout (ALLOW_DIRTY=1 builds
# one anyway, its commit marked "+dirty"). Run by `make release`.
set -euo pipefail
version=${1:?usage: release.sh VERSION DIR}
out=${2:?usage: release.sh VERSION DIR}
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "release: version $version is not vMAJOR.MINOR.PATCH[-PRERELEASE]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  if [ "${ALLOW_DIRTY:-}" != 1 ]; then
    echo "release: the checkout has uncommitted changes; commit them (or ALLOW_DIRTY=1)" >&2
    exit 1
  fi
  commit="$commit+dirty"
fi
targets=${TARGETS:-"linux/amd64 linux/arm64 darwin/arm64 darwin/amd64 windows/amd64"}
# Archive entries get the commit's time, so that a rebuild of one commit
# gives the same archives.
epoch=$(git log -1 --format=%ct)
rm -rf "$out" && mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for t in $targets; do
  os=${t%/*} arch=${t#*/}
  name=fed_${version}_${os}_${arch}
  exe=fed
  [ "$os" = windows ] && exe=fed.exe
  mkdir -p "$stage/$name"
  echo "release: $name"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
    -o "$stage/$name/$exe" ./cmd/fed
  cp README.md "$stage/$name/"
  touch -d "@$epoch" "$stage/$name" "$stage/$name"/*
  if [ "$os" = windows ]; then
    if command -v zip >/dev/null; then
      (cd "$stage" && zip -qrX "$out/$name.zip" "$name")
    else
      (cd "$stage" && /usr/bin/python3 -m zipfile -c "$out/$name.zip" "$name")
    fi
  else
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" |
      gzip -n >"$out/$name.tar.gz"
  fi
done
(cd "$out" && sha256sum fed_* >SHA256SUMS)
echo "release: $out/SHA256SUMS"
cat "$out/SHA256SUMS"
