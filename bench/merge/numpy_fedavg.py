"""A straightforward NumPy FedAvg of safetensors files: the peer of
`fed merge --strategy fedavg` in `make bench`. Reads every input whole,
averages each tensor weighted by the given sample counts in float64 (as
Flower-style aggregation does), writes the result as safetensors.

usage: numpy_fedavg.py OUT IN1:W1 IN2:W2 ...
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    tensors = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        tensors[name] = np.frombuffer(data[b:e], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return meta, tensors


def write(path, meta, tensors):
    header = {}
    if meta:
        header["__metadata__"] = meta
    off = 0
    names = sorted(tensors)
    for name in names:
        t = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + t.nbytes]}
        off += t.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name in names:
            f.write(tensors[name].tobytes())


def main():
    out = sys.argv[1]
    inputs = [a.rsplit(":", 1) for a in sys.argv[2:]]
    weights = np.array([float(w) for _, w in inputs])
    weights = weights / weights.sum()
    models = [read(p) for p, _ in inputs]
    meta = models[0][0]
    result = {}
    for name in models[0][1]:
        acc = np.zeros(models[0][1][name].shape, dtype=np.float64)
        for w, (_, ts) in zip(weights, models):
            acc += w * ts[name].astype(np.float64)
        result[name] = acc.astype(np.float32)
    write(out, meta, result)


if __name__ == "__main__":
    main()
