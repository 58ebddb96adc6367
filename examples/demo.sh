#!/usr/bin/env bash
# fed's demo: an owner and two contributors train one model together
# without pooling data. Everything runs locally: a `fed serve` on
# 127.0.0.1, generated safetensors models, keys made on the spot, and,
# when node is installed, a local Solana chain (make chain) for the
# repository's NFT. KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
FED="$here/bin/fed"
GEN="$here/bin/genmodel"
work=$(mktemp -d "${TMPDIR:-/tmp}/fed-demo-XXXXXX")
server_pid=""
chain_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  # The chain runs in its own process group (make, sh, node): stop it all.
  if [ -n "$chain_pid" ]; then kill -TERM -- "-$chain_pid" 2>/dev/null || kill "$chain_pid" 2>/dev/null || true; fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
export FED_CONFIG="$work/fedconfig" FED_ZK_CACHE="$work/zkcache" HOME="$work/home"
mkdir -p "$HOME"
# shellcheck source=style.sh
. "$here/examples/style.sh"
fed() { show fed "$@"; "$FED" "$@"; }

step "keys: every user is a Solana wallet (solana-keygen JSON)"
owner_pub=$("$FED" keygen "$work/owner.json")
alice_pub=$("$FED" keygen "$work/alice.json")
bob_pub=$("$FED" keygen "$work/bob.json")
echo "owner $owner_pub"; echo "alice $alice_pub"; echo "bob   $bob_pub"

step "a hosting server on 127.0.0.1"
"$FED" serve --root "$work/server" --addr 127.0.0.1:0 --addr-file "$work/addr" --parent $$ 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
url="http://$(cat "$work/addr")"
echo "serving at $url"

step "the owner starts a repository with a generated 16 MiB model"
mkdir -p "$work/owner" && cd "$work/owner"
export FED_KEYPAIR="$work/owner.json"
fed init
"$GEN" -o model.safetensors -size 16MiB -tensors 8 -seed 1
cp model.safetensors "$work/round0.safetensors"
fed add model.safetensors
fed commit -m "global model, round 0"
fed tag v0
fed remote add origin "$url/lab/digits"
fed push
fed collab add "$alice_pub"
fed collab add "$bob_pub"

step "two contributors clone it and train on their own data, on their own branches"
for u in alice bob; do
  export FED_KEYPAIR="$work/$u.json"
  fed clone "$url/lab/digits" "$work/$u"
  cd "$work/$u"
  fed switch -c "$u"
  seed=2; samples=1437
  if [ "$u" = bob ]; then seed=3; samples=563; fi
  "$GEN" -o "$work/$u-trained.safetensors" -from model.safetensors -nudge 0.01 -seed "$seed"
  cp "$work/$u-trained.safetensors" model.safetensors
  fed status --short
  fed diff --stat
  fed commit -a -m "$u: one epoch on private data" --samples "$samples"
  fed push origin "$u"
done

step "the owner fetches both contributions and merges them by FedAvg (weights = samples)"
cd "$work/owner"
export FED_KEYPAIR="$work/owner.json"
fed fetch
fed diff main origin/alice | head -12
fed merge origin/alice origin/bob
fed log --graph --oneline
fed show --stat HEAD
fed push

step "a poisoned contribution is discarded by a robust strategy"
fed switch -c robust-demo v0
for i in 1 2 3 4; do
  "$GEN" -o "$work/c$i.safetensors" -from model.safetensors -nudge 0.01 -seed "$((10+i))"
done
"$GEN" -o "$work/evil.safetensors" -from model.safetensors -change 8 -seed 666
for c in c1 c2 c3 c4 evil; do
  fed switch -c "$c" v0 >/dev/null 2>&1
  cp "$work/$c.safetensors" model.safetensors
  fed commit -q -a -m "$c" --samples 100
done
fed switch robust-demo
fed merge --strategy multi-krum --param f=1 --param m=4 c1 c2 c3 c4 evil

step "history: undo the round with revert -m, then go back; old versions check out byte-identical"
fed switch main
fed revert -m 1 HEAD
cmp model.safetensors "$work/round0.safetensors" && echo "reverted: the model is round 0's again, byte for byte"
fed reset --hard HEAD~1
fed checkout v0
cmp model.safetensors "$work/round0.safetensors" && echo "v0 checked out byte-identical"
fed switch main

step "integrity: every object hashed, every signature checked"
fed fsck
fed log -n 1 --show-signature

step "proofs: every update stays within bounds, the merge is the honest FedAvg (gnark, Groth16)"
# A small model and small proof chunks keep this step to seconds; the
# production chunk size is 8192 parameters (see make bench-zk).
mkdir -p "$work/zk" && cd "$work/zk"
export FED_KEYPAIR="$work/owner.json"
fed init -q
fed config zk.chunk 64
fed config zk.linf 0.05
"$GEN" -o model.safetensors -size 2KiB -tensors 2 -seed 1
cp model.safetensors "$work/zk-base.safetensors"
fed add model.safetensors
fed commit -q -m "global model"
fed prove --setup
for u in alice bob; do
  fed switch -q -c "$u" main
  "$GEN" -o model.safetensors -from "$work/zk-base.safetensors" -nudge 0.01 -seed "$([ $u = alice ] && echo 5 || echo 6)"
  fed --keypair "$work/$u.json" commit -q -a -m "$u trains" --samples "$([ $u = alice ] && echo 300 || echo 100)"
  fed prove --setup
done
fed switch -q main
fed merge --param exact=true -m "round 1, provable" alice bob
fed prove --setup
fed verify
echo "a CI step runs 'fed verify A..B' and fails on any commit that does not verify (doc/ci.md)"

step "ownership on Solana: the repository's NFT and an anchored commit, on a local chain"
cd "$work/owner"
export FED_KEYPAIR="$work/owner.json"
if ! command -v node >/dev/null 2>&1; then
  echo "note: node is not installed, so the local Solana chain cannot run; skipping this step"
  echo "      (install Node.js >= 20 and run 'make demo' again, or use devnet: fed config solana.rpc https://api.devnet.solana.com)"
elif ! command -v curl >/dev/null 2>&1; then
  echo "note: curl is not installed (it funds the wallet on the local chain); skipping this step"
else
  # make chain prints the chain's URL first; PARENT stops it if this script dies.
  set -m
  PARENT=$$ IDLE=300 make -s --no-print-directory -C "$here" chain >"$work/chain.url" 2>"$work/chain.log" &
  chain_pid=$!
  set +m
  for _ in $(seq 1200); do
    [ -s "$work/chain.url" ] && break
    kill -0 "$chain_pid" 2>/dev/null || break
    sleep 0.1
  done
  rpc=$(head -n 1 "$work/chain.url" 2>/dev/null || true)
  case "$rpc" in
  http://*)
    echo "local chain at $rpc (litesvm running the real Token-2022, Associated Token Account and Memo programs)"
    echo "funding the owner's wallet: requestAirdrop of 2 SOL"
    curl -sS -X POST -H 'Content-Type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"requestAirdrop","params":["'"$owner_pub"'",2000000000]}' "$rpc" >/dev/null
    fed config solana.rpc "$rpc"
    fed nft mint
    fed nft show
    fed anchor
    echo "whoever holds this NFT owns the repository on servers run with 'fed serve --solana-rpc URL' (after 'fed nft link')"
    ;;
  *)
    echo "note: the local chain did not start; skipping this step. Its log:"
    sed 's/^/  /' "$work/chain.log" || true
    ;;
  esac
fi
echo
echo "demo done: owner, alice and bob collaborated through $url"
