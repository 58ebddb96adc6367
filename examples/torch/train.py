"""Local training for fed's PyTorch example (examples/torch/federated.sh).

Three clinics hold private records for one binary risk prediction from 20
lab values, but each clinic measures a different panel of them (values it
does not measure are 0 in its records). Alone, a clinic learns only what
its panel shows; FedAvg combines what all three learned without any record
leaving its clinic. Each clinic trains the shared model on its own records
and saves the weights with torch.save; fed versions, merges and proves them.
Runs on a CPU in seconds.

    train.py init  MODEL                         a fresh model (round 0)
    train.py train MODEL --client K --round R    local epochs on clinic K's
                                                 records; prints their number
        --save-as FILE                           torch.save the weights to FILE
                                                 (as scripts do: their own name)
                                                 instead of MODEL
        --export FILE                            also write them as safetensors
                                                 with the clinic's metadata
        --optimizer FILE                         train with momentum and save
                                                 the optimizer state to FILE
    train.py eval  MODEL                         accuracy on held-out patients
                                                 with every value measured
    train.py alone MODEL --client K --epochs E   accuracy of MODEL trained for
                                                 E epochs on clinic K's records
                                                 only (the baseline; writes nothing)
"""

import argparse
import json
import struct
import sys

import torch
from torch import nn

FEATURES = 20
CLIENTS = [300, 700, 1000]  # records per clinic: FedAvg weights them
PANELS = [range(0, 7), range(7, 14), range(14, 20)]  # values each clinic measures
EPOCHS, LR = 5, 0.1


def make_model():
    return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, 2))


def data(n, panel, seed):
    """n records with the values of panel measured (all when None)."""
    g = torch.Generator().manual_seed(1234)
    w = torch.randn(FEATURES, generator=g)
    w = w / w.norm()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, FEATURES, generator=g)
    if panel is not None:
        mask = torch.zeros(FEATURES)
        mask[list(panel)] = 1
        x = x * mask
    y = ((x @ w + 0.1 * torch.randn(n, generator=g)) > 0).long()
    return x, y


def client_data(k):
    return data(CLIENTS[k], PANELS[k], 100 + k)


def test_data():
    return data(6000, None, 999)


def fit(m, k, epochs, seed, momentum=0.0):
    torch.manual_seed(seed)
    x, y = client_data(k)
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 32):
            idx = perm[i : i + 32]
            opt.zero_grad()
            loss_fn(m(x[idx]), y[idx]).backward()
            opt.step()
    return x, y, opt


def save_safetensors(sd, path, metadata):
    """Writes sd as safetensors the way the reference library lays it out
    (one dtype: tensors sorted by name, compact JSON header padded with
    spaces to 8 bytes), metadata as __metadata__."""
    header, off = {"__metadata__": metadata}, 0
    names = sorted(sd)
    for k in names:
        n = sd[k].numel() * sd[k].element_size()
        header[k] = {"dtype": "F32", "shape": list(sd[k].shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for k in names:
            f.write(sd[k].contiguous().numpy().tobytes())


def make_model_from(path):
    return torch.load(path)


def load(path):
    m = make_model()
    m.load_state_dict(torch.load(path))
    return m


def accuracy(m, x, y):
    with torch.no_grad():
        return (m(x).argmax(1) == y).float().mean().item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["init", "train", "eval", "alone"])
    p.add_argument("model")
    p.add_argument("--client", type=int, default=0)
    p.add_argument("--round", type=int, default=1)
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--save-as")
    p.add_argument("--export")
    p.add_argument("--optimizer")
    a = p.parse_args()
    torch.set_num_threads(1)

    if a.cmd == "init":
        torch.manual_seed(0)
        torch.save(make_model().state_dict(), a.model)
        if a.export:
            save_safetensors(make_model_from(a.model), a.export, {"format": "pt", "round": "0"})
        return
    m = load(a.model)
    xt, yt = test_data()
    if a.cmd == "eval":
        print(f"{accuracy(m, xt, yt):.3f}")
        return
    if a.cmd == "alone":
        fit(m, a.client, a.epochs, 7 + a.client)
        print(f"{accuracy(m, xt, yt):.3f}")
        return
    x, y, opt = fit(m, a.client, a.epochs, 1000 * a.round + a.client, momentum=0.9 if a.optimizer else 0.0)
    torch.save(m.state_dict(), a.save_as or a.model)
    if a.export:
        save_safetensors(m.state_dict(), a.export, {"format": "pt", "client": str(a.client),
                                                    "num_examples": str(len(x)), "round": str(a.round)})
    if a.optimizer:
        # the legacy (non-zip) format, as scripts written for old torch
        # releases save: fed keeps such a file whole (and says so), so the
        # update proofs, which cover the tensors the parent already had,
        # are not asked to cover tensors this commit adds
        torch.save(opt.state_dict(), a.optimizer, _use_new_zipfile_serialization=False)
    print(len(x))
    print(f"clinic {a.client}: accuracy on its own records {accuracy(m, x, y):.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
