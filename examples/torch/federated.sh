#!/usr/bin/env bash
# Federated training with real PyTorch checkpoints: three clinics train one
# model on their own records (train.py: each measures a different panel of
# lab values), commit only the weights, prove that each update stays within
# the agreed bound, and push to their own branches on a `fed serve` at
# 127.0.0.1. The owner merges the branches by FedAvg weighted by records,
# proves that the merge is that weighted average, and publishes it. Finally
# a fresh clone verifies the history.
#
# The clinics' files differ the way real scripts' files do, and the rounds
# merge without anyone making them alike: each clinic saves its checkpoint
# under its own name (torch.save(sd, "alice_round1.pt") names the archive
# inside after it) and copies it to model.pt; each exports model.safetensors
# with its own metadata (client, num_examples, round); carol trains with
# momentum and also commits her optimizer state (optimizer.pt, in torch's
# legacy format, which fed stores whole: an update proof cannot cover
# tensors its commit adds, see train.py); bob edits
# the round folder's config.json. After each merge fedavg_check.py
# recomputes the FedAvg of doc/design.md §14 with NumPy from the clinics'
# own checkpoints and compares fed's merged files bit for bit.
#
# Needs /usr/bin/python3 with torch (Debian: apt-get install python3-torch)
# and bin/fed (make build). ROUNDS (default 2); KEEP=1 keeps the work
# directory; FED names another fed binary. Exits non-zero when a step fails
# or when the final model is not more accurate than every clinic could get
# alone (the same number of epochs on its own records only).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
FED=${FED:-"$here/bin/fed"}
PY=${PYTHON:-/usr/bin/python3}
TRAIN="$here/examples/torch/train.py"
CHECK="$here/examples/torch/fedavg_check.py"
ROUNDS=${ROUNDS:-2}
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "examples/torch: $PY cannot import torch (Debian: apt-get install python3-torch)" >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fed-torch-XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
export FED_CONFIG="$work/fedconfig" FED_ZK_CACHE="$work/zkcache" HOME="$work/home"
mkdir -p "$HOME"
step() { printf '\n== %s\n' "$*"; }
fed() { printf '$ fed %s\n' "$*" >&2; "$FED" "$@"; }
clinics=(alice bob carol)

step "keys, and a hosting server on 127.0.0.1"
"$FED" keygen "$work/owner.json" >/dev/null
declare -A pub
for u in "${clinics[@]}"; do pub[$u]=$("$FED" keygen "$work/$u.json"); done
"$FED" serve --root "$work/server" --addr 127.0.0.1:0 --addr-file "$work/addr" --parent $$ 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
url="http://$(cat "$work/addr")/clinics/risk"

step "round 0: the owner commits an untrained model (torch.save) with its commitment proof"
mkdir "$work/owner" && cd "$work/owner"
export FED_KEYPAIR="$work/owner.json"
fed init -q
# The largest change of one weight an update may make, and small proof
# chunks: the model has 738 parameters (production chunks hold 8192).
fed config zk.linf 2.0
fed config zk.chunk 256
"$PY" "$TRAIN" init model.pt --export model.safetensors
cp model.pt "$work/round0.pt"
"$PY" -c 'import json; print(json.dumps({"architecture": "mlp", "features": 20, "hidden": 32, "classes": 2, "local_epochs": 5, "lr": 0.1}, indent=2, sort_keys=True))' >config.json
fed add model.pt model.safetensors config.json
fed commit -q -m "round 0: untrained model"
fed prove --setup -q
fed remote add origin "$url"
fed push -q
for u in "${clinics[@]}"; do fed collab add "${pub[$u]}"; done
# The same settings, signed by the owner, for the server and every clone.
fed config --remote origin zk.chunk 256
fed config --remote origin zk.linf 2.0
acc0=$("$PY" "$TRAIN" eval model.pt)
acc=$acc0
echo "global accuracy after round 0: $acc0"

runs="$work/runs"  # where the clinics' scripts save their checkpoints
mkdir -p "$runs"
declare -A samples
records=()  # key:round:records, for the contributors check
for r in $(seq 1 "$ROUNDS"); do
  step "round $r: each clinic trains on its own records and pushes only the weights"
  for k in "${!clinics[@]}"; do
    u=${clinics[$k]}
    export FED_KEYPAIR="$work/$u.json"
    if [ ! -d "$work/$u" ]; then
      fed clone -q "$url" "$work/$u"
      cd "$work/$u"
      fed config zk.linf 2.0
      fed config zk.chunk 256
    else
      cd "$work/$u"
      fed fetch -q
    fi
    fed switch -q -c "$u-r$r" origin/main
    extra=()
    if [ "$u" = carol ]; then extra=(--optimizer optimizer.pt); fi
    samples[$u]=$("$PY" "$TRAIN" train model.pt --client "$k" --round "$r" \
      --save-as "$runs/${u}_round$r.pt" --export model.safetensors "${extra[@]}" 2>"$work/$u.log")
    sed 's/^/  /' "$work/$u.log"
    cp "$runs/${u}_round$r.pt" model.pt
    if [ "$u" = carol ]; then fed add optimizer.pt; fi
    if [ "$u" = bob ] && [ "$r" = 1 ]; then
      "$PY" -c 'import json; c = json.load(open("config.json")); c["notes"] = "clinic b measures values 7-13"; open("config.json", "w").write(json.dumps(c, indent=2, sort_keys=True) + "\n")'
    fi
    fed diff --stat | sed 's/^/  /'
    fed commit -q -a -m "$u: round $r on ${samples[$u]} private records" --samples "${samples[$u]}"
    records+=("${pub[$u]}:$r:${samples[$u]}")
    fed prove --setup -q
    fed push -q origin "$u-r$r"
  done

  step "round $r: the owner merges by FedAvg (weights = records), proves it and publishes"
  cd "$work/owner"
  export FED_KEYPAIR="$work/owner.json"
  fed fetch -q
  branches=()
  for u in "${clinics[@]}"; do branches+=("origin/$u-r$r"); done
  # exact=true: the fixed-point FedAvg that the merge proof states, bit for bit.
  fed merge --param exact=true -m "round $r: FedAvg of ${clinics[*]}" "${branches[@]}" | grep -v '^\[' | sed 's/^/  /'
  sides=()
  for u in "${clinics[@]}"; do sides+=("$runs/${u}_round$r.pt:${samples[$u]}"); done
  "$PY" "$CHECK" "$r" model.pt model.safetensors "${sides[@]}"
  # the files only one clinic changed are hers: bob's config, carol's optimizer state
  grep -q '"notes": "clinic b' config.json || { echo "examples/torch: bob's config.json edit is not in the merge" >&2; exit 1; }
  cmp -s optimizer.pt "$work/carol/optimizer.pt" || { echo "examples/torch: carol's optimizer.pt is not in the merge" >&2; exit 1; }
  fed prove --setup -q
  fed push -q
  acc=$("$PY" "$TRAIN" eval model.pt)
  echo "accuracy after round $r, on held-out patients with every value measured: $acc"
done

step "what each clinic gave, from the merge records, against the records each trained on"
cd "$work/owner"
fed contributors
fed contributors --csv >"$work/contributors.csv"
# by hand: a clinic's share is the mean over rounds of its records over the round's records
"$PY" - "$work/contributors.csv" "$ROUNDS" "${records[@]}" <<'PY'
import csv, sys
rows = {r["key"]: r for r in csv.DictReader(open(sys.argv[1]))}
rounds = int(sys.argv[2])
per_round = {}
for rec in sys.argv[3:]:
    key, r, n = rec.split(":")
    per_round.setdefault(r, {})[key] = int(n)
share = {}
for ns in per_round.values():
    total = sum(ns.values())
    for key, n in ns.items():
        share[key] = share.get(key, 0) + n / total / rounds
for key, s in sorted(share.items()):
    row = rows.get(key)
    if row is None or abs(float(row["share"]) - s) > 1e-12 or int(row["proofs"]) != rounds or int(row["merged"]) != rounds:
        sys.exit(f"contributors check: {key}: {row}, by hand share {s}, {rounds} proofs and merged updates")
print("contributors check: shares match the records:", ", ".join(f"{k[:8]} {v:.4f}" for k, v in sorted(share.items())))
PY

step "what each clinic would get alone: the same $((ROUNDS * 5)) epochs on its own records only"
cd "$work/owner"
best=0
for k in "${!clinics[@]}"; do
  a=$("$PY" "$TRAIN" alone "$work/round0.pt" --client "$k" --epochs "$((ROUNDS * 5))")
  echo "${clinics[$k]} alone: $a"
  best=$("$PY" -c "print(max($best, $a))")
done
echo "together (FedAvg, $ROUNDS rounds): $acc"
if ! "$PY" -c "import sys; sys.exit(0 if $acc > $best else 1)"; then
  echo "examples/torch: the federated model ($acc) is not better than the best clinic alone ($best)" >&2
  exit 1
fi

step "anyone verifies the history from a fresh clone: signatures, update bounds, honest merges"
export FED_KEYPAIR="$work/owner.json"
fed clone -q "$url" "$work/auditor"
cd "$work/auditor"
fed verify --require-proofs ..HEAD
"$PY" -c "import torch; sd = torch.load('model.pt'); print('torch.load of the published model:', {k: tuple(v.shape) for k, v in sd.items()})"
echo
echo "done: ${#clinics[@]} clinics, $ROUNDS rounds, accuracy $acc0 -> $acc"
