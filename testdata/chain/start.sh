#!/bin/sh
# Starts fed's local Solana chain (litesvm behind a JSON-RPC front) on a
# free port of 127.0.0.1 and prints its URL on the first line of stdout.
# Installs the pinned node packages first when they are missing.
# It stops on SIGTERM, when the process that started this script is gone,
# or after IDLE seconds without a request (default 600).
#
#   testdata/chain/start.sh > chain.url &      # then read chain.url
#   IDLE=60 testdata/chain/start.sh --port 8899
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null 2>&1 || { echo "start.sh: node is not installed (needs Node.js >= 20)" >&2; exit 127; }
if [ ! -f "$dir/node_modules/litesvm/package.json" ] || [ ! -f "$dir/node_modules/@solana/spl-token/package.json" ]; then
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
exec node "$dir/server.js" --parent "${PARENT:-$PPID}" --idle "${IDLE:-600}" "$@"
