#!/usr/bin/python3
"""Generate the model-format fixtures of fed's codecs with the real tools.

Run from the repository root with Debian's interpreter (it alone sees
python3-torch 1.13, python3-numpy 1.24 and python3-onnx 1.12):

    /usr/bin/python3 codec/testdata/gen.py

It writes small files into codec/torch/testdata, codec/npy/testdata and
codec/onnx/testdata, and next to each a "<file>.json" manifest of what the
Go tests expect: every tensor's dtype, shape and the SHA-256 of its
contiguous little-endian row-major bytes (for torch also of its storage),
or {"opaque": true} for files fed must keep as opaque blobs. Output is
deterministic for a given torch/numpy/onnx version (fixed seeds).
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TORCH_DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL", torch.complex64: "C64",
}
NP_DTYPES = {
    "float32": "F32", "float64": "F64", "float16": "F16", "int64": "I64",
    "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8",
    "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL",
    "complex64": "C64",
}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def tensor_bytes(t):
    t = t.detach().contiguous().reshape(-1)
    if t.numel() == 0:
        return b""
    return t.view(torch.uint8).numpy().tobytes()


def storage_bytes(t):
    s = t.storage()
    flat = torch.empty(0, dtype=t.dtype).set_(s, 0, (s.size(),))
    return tensor_bytes(flat)


def walk(obj, path, out):
    """Name tensors as fed does: dict keys and list indices joined by '.'."""
    def join(k):
        return k if path == "" else path + "." + k
    if isinstance(obj, torch.Tensor):
        out[path or "(root)"] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            walk(v, join(str(k)), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            walk(v, join(str(i)), out)


def save_torch(name, obj, **kw):
    path = os.path.join(ROOT, "torch", "testdata", name)
    torch.save(obj, path, **kw)
    tensors = {}
    walk(obj, "", tensors)
    man = {"tensors": {}}
    for k, t in tensors.items():
        man["tensors"][k] = {
            "dtype": TORCH_DTYPES[t.dtype],
            "shape": list(t.shape),
            "sha256": sha(tensor_bytes(t)),
            "storage_sha256": sha(storage_bytes(t)),
            "offset": t.storage_offset(),
            "stride": list(t.stride()),
        }
    write_manifest(path, man)


def write_manifest(path, man):
    with open(path + ".json", "w") as f:
        json.dump(man, f, indent=1, sort_keys=True)
        f.write("\n")


def opaque(path):
    write_manifest(path, {"opaque": True})


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 3)
        self.bn = torch.nn.BatchNorm1d(3)
        self.fc2 = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def gen_torch():
    torch.manual_seed(0)
    net = Net()
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    loss = net(torch.randn(5, 4)).pow(2).sum()
    loss.backward()
    opt.step()

    save_torch("state_dict.pt", net.state_dict())
    save_torch("checkpoint.pth", {
        "model": net.state_dict(), "optimizer": opt.state_dict(),
        "epoch": 3, "name": "digits", "lrs": [0.1, 0.01], "flags": (True, None),
    })
    save_torch("dtypes.pt", {
        "f16": torch.arange(6, dtype=torch.float16).reshape(2, 3),
        "bf16": torch.linspace(-1, 1, 5).to(torch.bfloat16),
        "f64": torch.tensor([1.5, -2.25], dtype=torch.float64),
        "i32": torch.tensor([[1, -2], [3, 4]], dtype=torch.int32),
        "i16": torch.tensor([7, -8], dtype=torch.int16),
        "i8": torch.tensor([-1, 2, 3], dtype=torch.int8),
        "u8": torch.tensor([255, 0], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "c64": torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64),
        "scalar": torch.tensor(3.25),
        "count": torch.tensor(7, dtype=torch.int64),
        "empty": torch.zeros(0, 3),
    })
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    tied = torch.randn(2, 2)
    save_torch("views.pt", {
        "base": base, "transposed": base.t(), "row": base[1], "cols": base[:, 1:3],
        "tied_a": tied, "tied_b": tied,
        "slice": torch.arange(10, dtype=torch.int64)[2:5],
        "alone": torch.ones(2, 2),
    })
    # One tensor on its own.
    save_torch("tensor.pt", torch.arange(4, dtype=torch.float32))

    d = os.path.join(ROOT, "torch", "testdata")
    torch.save({"w": torch.ones(2)}, os.path.join(d, "legacy.pt"), _use_new_zipfile_serialization=False)
    opaque(os.path.join(d, "legacy.pt"))
    torch.jit.save(torch.jit.script(Net()), os.path.join(d, "script.pt"))
    opaque(os.path.join(d, "script.pt"))
    # A numpy scalar pickles numpy.core.multiarray.scalar: not on the whitelist.
    torch.save({"w": torch.ones(2), "best": np.float64(0.5)}, os.path.join(d, "numpy_scalar.pt"))
    opaque(os.path.join(d, "numpy_scalar.pt"))


def np_manifest(arrays):
    man = {"tensors": {}}
    for k, a in arrays.items():
        if a.dtype.name not in NP_DTYPES or a.dtype.byteorder == ">":
            continue
        shape = list(a.shape)
        if a.flags.f_contiguous and not a.flags.c_contiguous and a.ndim >= 2:
            data = a.tobytes(order="F")
            shape = [a.size]
        else:
            data = a.tobytes(order="C")
        man["tensors"][k] = {"dtype": NP_DTYPES[a.dtype.name], "shape": shape, "sha256": sha(data)}
    return man


def gen_npy():
    d = os.path.join(ROOT, "npy", "testdata")
    rng = np.random.default_rng(0)
    arrays = {
        "f32.npy": rng.standard_normal((2, 3)).astype(np.float32),
        "scalar.npy": np.array(2.5),
        "fortran.npy": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "bool.npy": np.array([True, False]),
        "empty.npy": np.zeros((0, 4), dtype=np.float16),
        "u16.npy": np.arange(5, dtype=np.uint16),
    }
    for name, a in arrays.items():
        np.save(os.path.join(d, name), a)
        m = np_manifest({"array": a})
        write_manifest(os.path.join(d, name), m)
    for name, a in {
        "bigendian.npy": np.arange(3, dtype=">f4"),
        "unicode.npy": np.array(["ab", "c"]),
        "object.npy": np.array([{"a": 1}, None], dtype=object),
    }.items():
        np.save(os.path.join(d, name), a, allow_pickle=True)
        opaque(os.path.join(d, name))

    members = {
        "weight": rng.standard_normal((3, 2)).astype(np.float32),
        "bias": np.arange(3, dtype=np.float64),
        "steps": np.array(10, dtype=np.int64),
        "labels": np.array(["cat", "dog"]),  # no fed dtype: stays raw
        "layer/one": np.ones(2, dtype=np.float32),
    }
    np.savez(os.path.join(d, "arrays.npz"), **members)
    write_manifest(os.path.join(d, "arrays.npz"), np_manifest(members))
    np.savez_compressed(os.path.join(d, "compressed.npz"), **members)
    opaque(os.path.join(d, "compressed.npz"))


def gen_onnx():
    d = os.path.join(ROOT, "onnx", "testdata")
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    half = np.arange(3, dtype=np.float16)
    shape = np.array([1, 3], dtype=np.int64)
    then_c = np.full(3, 2.0, dtype=np.float32)
    else_c = np.full(3, -1.0, dtype=np.float32)
    sub_init = np.arange(3, dtype=np.float32)

    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(b, "B"),
        numpy_helper.from_array(half, "H"),
        numpy_helper.from_array(shape, "shape"),
        # typed field (float_data), not raw_data: stays raw bytes in fed
        helper.make_tensor("typed", TensorProto.FLOAT, [2], [0.5, 1.5]),
    ]
    cst = helper.make_node("Constant", [], ["C"], value=numpy_helper.from_array(np.full(3, 0.25, np.float32), "const_value"))
    then_g = helper.make_graph(
        [helper.make_node("Constant", [], ["then_out"], value=numpy_helper.from_array(then_c, "then_value"))],
        "then", [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [3])])
    else_g = helper.make_graph(
        [helper.make_node("Add", ["sub_w", "sub_w"], ["else_out"])],
        "else", [], [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [3])],
        initializer=[numpy_helper.from_array(sub_init, "sub_w")])
    nodes = [
        cst,
        helper.make_node("MatMul", ["X", "W"], ["XW"]),
        helper.make_node("Add", ["XW", "B"], ["Y0"]),
        helper.make_node("Add", ["Y0", "C"], ["Y1"]),
        helper.make_node("ReduceSum", ["Y1"], ["S"], keepdims=0),
        helper.make_node("Greater", ["S", "zero"], ["cond"]),
        helper.make_node("If", ["cond"], ["Z"], then_branch=then_g, else_branch=else_g, name="branch"),
        helper.make_node("Add", ["Y1", "Z"], ["Y"]),
    ]
    inits.append(numpy_helper.from_array(np.array(0, dtype=np.float32), "zero"))
    graph = helper.make_graph(nodes, "fixture",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 3])],
                              initializer=inits)
    model = helper.make_model(graph, producer_name="fed-gen", opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    man = {"tensors": {}}
    for name, a in [("W", w), ("B", b), ("H", half), ("shape", shape), ("zero", np.array(0, dtype=np.float32)),
                    ("C", np.full(3, 0.25, np.float32)), ("branch/then_branch/then_out", then_c),
                    ("branch/else_branch/sub_w", sub_init)]:
        man["tensors"][name] = {"dtype": NP_DTYPES[a.dtype.name], "shape": list(a.shape), "sha256": sha(a.tobytes())}
    write_manifest(path, man)


if __name__ == "__main__":
    for sub in ("torch", "npy", "onnx"):
        os.makedirs(os.path.join(ROOT, sub, "testdata"), exist_ok=True)
    gen_torch()
    gen_npy()
    gen_onnx()
    print("torch", torch.__version__, "numpy", np.__version__, "onnx", onnx.__version__, file=sys.stderr)
