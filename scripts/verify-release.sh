#!/usr/bin/env bash
# verify-release.sh VERSION DIR: checks what release.sh wrote: every
# archive is listed in SHA256SUMS and matches it, each unpacks to one
# directory holding the binary and README.md, and the binary for this
# machine reports VERSION and the commit with --version.
set -euo pipefail
version=${1:?usage: verify-release.sh VERSION DIR}
dir=${2:?usage: verify-release.sh VERSION DIR}
cd "$dir"
targets=${TARGETS:-"linux/amd64 linux/arm64 darwin/arm64 darwin/amd64 windows/amd64"}
sha256sum -c --strict SHA256SUMS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
host="$(go env GOOS)/$(go env GOARCH)"
ran=
for t in $targets; do
  os=${t%/*} arch=${t#*/}
  name=fed_${version}_${os}_${arch}
  if [ "$os" = windows ]; then
    archive=$name.zip exe=fed.exe
    unzip -q "$archive" -d "$tmp"
  else
    archive=$name.tar.gz exe=fed
    tar -C "$tmp" -xzf "$archive"
  fi
  grep -q "  $archive\$" SHA256SUMS || { echo "verify: $archive is not in SHA256SUMS" >&2; exit 1; }
  for f in "$exe" README.md; do
    [ -f "$tmp/$name/$f" ] || { echo "verify: $archive has no $name/$f" >&2; exit 1; }
  done
  if [ "$t" = "$host" ]; then
    got=$("$tmp/$name/$exe" --version)
    echo "verify: $name: $got"
    case "$got" in
      *"fed version $version (commit "*) ;;
      *) echo "verify: $name/$exe --version says '$got', want version $version" >&2; exit 1 ;;
    esac
    ran=1
  fi
done
[ -n "$ran" ] || echo "verify: no archive for $host: --version not run" >&2
echo "verify: OK: $(wc -l <SHA256SUMS) archive(s) of $version"
