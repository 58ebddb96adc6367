"""An independent check of fed's merges in examples/torch/federated.sh.

Recomputes with NumPy the FedAvg that `fed merge --param exact=true` states,
written from doc/design.md §14 ("Verifiable fixed-point fedavg"), and
compares it bit for bit with what fed wrote:

    q_k    = round_half_even(x_k * 2^16)            as integers
    merged = floor(sum_k w_k q_k / sum_k w_k)        exact, toward -inf
    output = merged * 2^-16, rounded once to float32

    fedavg_check.py ROUND MERGED_PT MERGED_SAFETENSORS SIDE_PT:WEIGHT...

SIDE_PT are the contributors' checkpoints as they saved them (torch.save,
each under its own file name), WEIGHT their record counts. The merged
safetensors file must hold the same tensors, and the metadata the merge
rule gives: keys every clinic set alike kept ("format", "round"), keys they
set differently ("client", "num_examples") left as the base had them
(absent). Exits non-zero on any difference.
"""

import json
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for k, h in header.items():
        assert h["dtype"] == "F32", (k, h["dtype"])
        s, e = h["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s : 8 + n + e], dtype="<f4").reshape(h["shape"])
    return out, meta


def fedavg_exact(sides, weights):
    w = np.array(weights, dtype=np.int64)
    q = [np.rint(x.astype(np.float64) * 65536.0).astype(np.int64) for x in sides]
    acc = sum(wk * qk for wk, qk in zip(w, q))  # |w q| < 2^42: int64 is exact
    merged = np.floor_divide(acc, w.sum())
    return (merged.astype(np.float64) / 65536.0).astype(np.float32)


def main():
    rnd, merged_pt, merged_st, sides = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    paths = [s.rsplit(":", 1)[0] for s in sides]
    weights = [int(s.rsplit(":", 1)[1]) for s in sides]
    sds = [{k: v.numpy() for k, v in torch.load(p).items()} for p in paths]
    got = {k: v.numpy() for k, v in torch.load(merged_pt).items()}
    st, meta = read_safetensors(merged_st)
    assert set(got) == set(sds[0]) == set(st), (sorted(got), sorted(st))
    for k in sorted(got):
        want = fedavg_exact([sd[k] for sd in sds], weights)
        for name, t in (("model.pt", got[k]), ("model.safetensors", st[k])):
            if t.dtype != np.float32 or not np.array_equal(t.view(np.uint32), want.view(np.uint32)):
                sys.exit(f"fedavg check: {name} tensor {k} differs from the NumPy FedAvg")
    want_meta = {"format": "pt", "round": rnd}
    if meta != want_meta:
        sys.exit(f"fedavg check: merged metadata {meta}, want {want_meta}")
    print(f"fedavg check: {len(got)} tensors of model.pt and model.safetensors bit-identical to the NumPy FedAvg "
          f"of {len(sides)} clinics (weights {','.join(map(str, weights))}); metadata {meta}")


if __name__ == "__main__":
    main()
