package mergeexec

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/repo"
)

// hfScript writes a model folder the way transformers' save_pretrained
// lays it out (transformers cannot be installed here): config.json and
// generation_config.json (json.dumps, indent 2, sorted keys), the weights
// in safetensors shards model-0000K-of-0000N.safetensors with metadata
// {"format": "pt"}, and model.safetensors.index.json. Arguments: the
// folder, a scale for every weight, and the shard size in bytes.
const hfScript = `
import json, os, struct, sys
import numpy as np
out, scale, shard_size = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
sd = {}
for i in range(3):
    sd[f"model.layers.{i}.weight"] = rng.standard_normal((16, 16)).astype(np.float32)
    sd[f"model.layers.{i}.bias"] = rng.standard_normal(16).astype(np.float32)
sd["lm_head.weight"] = rng.standard_normal((8, 16)).astype(np.float32)
sd = {k: (v * np.float32(scale)).astype(np.float32) for k, v in sd.items()}

def save_file(tensors, path):
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for k in sorted(tensors):  # one dtype: the reference orders by name
        n = tensors[k].nbytes
        header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for k in sorted(tensors):
            f.write(tensors[k].tobytes())

shards, cur, size = [], {}, 0
for k, v in sd.items():  # state-dict order, as save_pretrained splits
    if cur and size + v.nbytes > shard_size:
        shards.append(cur); cur, size = {}, 0
    cur[k] = v; size += v.nbytes
shards.append(cur)
weight_map = {}
for i, s in enumerate(shards):
    name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
    save_file(s, os.path.join(out, name))
    weight_map.update({k: name for k in s})
index = {"metadata": {"total_size": sum(v.nbytes for v in sd.values())}, "weight_map": weight_map}
for name, obj in (("model.safetensors.index.json", index),
                  ("config.json", {"architectures": ["TinyLM"], "hidden_size": 16, "model_type": "tiny", "num_hidden_layers": 3, "torch_dtype": "float32"}),
                  ("generation_config.json", {"_from_model_config": True, "max_new_tokens": 8})):
    with open(os.path.join(out, name), "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
`

func writeHF(t *testing.T, dir string, scale string, shardSize string) {
	t.Helper()
	if out, err := exec.Command("/usr/bin/python3", "-c", hfScript, dir, scale, shardSize).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dst, 0o755)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sameDir(t *testing.T, got, want string) {
	t.Helper()
	ents, _ := os.ReadDir(want)
	gents, _ := os.ReadDir(got)
	if len(ents) != len(gents) {
		t.Fatalf("%s has %d files, %s %d", got, len(gents), want, len(ents))
	}
	for _, e := range ents {
		a, _ := os.ReadFile(filepath.Join(got, e.Name()))
		b, _ := os.ReadFile(filepath.Join(want, e.Name()))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s", filepath.Join(got, e.Name()), filepath.Join(want, e.Name()))
		}
	}
}

// TestHuggingFaceFolder: a folder in save_pretrained's layout (config,
// generation config, safetensors shards, the index) round-trips byte for
// byte, a round where one contributor also edits config.json merges by
// fedavg (every shard is the base scaled by 3, the mean of 2× and 4×),
// and a contributor who saved with another shard size moved tensors
// between shards: diff shows them moved, not removed and added.
func TestHuggingFaceFolder(t *testing.T) {
	if exec.Command("/usr/bin/python3", "-c", "import numpy").Run() != nil {
		t.Skip("/usr/bin/python3 cannot import numpy (apt-get install python3-numpy)")
	}
	ctx := context.Background()
	tmp := t.TempDir()
	for _, v := range []struct{ name, scale, shard string }{
		{"base", "1", "2500"}, {"a", "2", "2500"}, {"b", "4", "2500"}, {"want", "3", "2500"}, {"resharded", "1", "1500"},
		{"resharded4", "4", "1500"}, {"want2", "3", "2500"},
	} {
		writeHF(t, filepath.Join(tmp, v.name), v.scale, v.shard)
	}
	if _, err := os.Stat(filepath.Join(tmp, "base", "model-00002-of-00002.safetensors")); err != nil {
		t.Fatalf("the folder is not sharded: %v", err)
	}
	r := newTestRepo(t)
	folder := filepath.Join(r.Root, "tiny")
	copyDir(t, filepath.Join(tmp, "base"), folder)
	if err := r.Add(ctx, []string{folder}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"a", "b"} {
		if err := r.Switch(ctx, side, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		copyDir(t, filepath.Join(tmp, side), folder)
		if side == "a" {
			b, _ := os.ReadFile(filepath.Join(folder, "config.json"))
			os.WriteFile(filepath.Join(folder, "config.json"), bytes.Replace(b, []byte(`"hidden_size": 16,`), []byte(`"dropout": 0.1,
  "hidden_size": 16,`), 1), 0o644)
		}
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: side, All: true}); err != nil {
			t.Fatal(err)
		}
	}
	// round trip: back on main, the folder is the base's, byte for byte
	if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	sameDir(t, folder, filepath.Join(tmp, "base"))
	if _, err := Merge(ctx, r, []string{"a", "b"}, Options{}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(folder, "config.json"))
	if !bytes.Contains(cfg, []byte(`"dropout": 0.1,`)) {
		t.Errorf("merged config.json lacks a's edit:\n%s", cfg)
	}
	os.WriteFile(filepath.Join(tmp, "want", "config.json"), cfg, 0o644)
	sameDir(t, folder, filepath.Join(tmp, "want"))

	// another shard size: tensors move between shards
	if err := r.Switch(ctx, "resharded", repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(folder)
	copyDir(t, filepath.Join(tmp, "resharded"), folder)
	if err := r.Add(ctx, []string{folder}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := r.Diff(ctx, repo.DiffSide{Commit: base}, repo.DiffSide{Index: true}, repo.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, f := range d {
		for _, td := range f.Tensors {
			if td.Status != 'R' || td.MovedFrom == "" {
				t.Errorf("%s: tensor %s %c (moved from %q): the weights did not change", f.Path, td.Name, td.Status, td.MovedFrom)
			}
			moved++
		}
	}
	if moved == 0 {
		t.Fatalf("no tensor moved between shards: %+v", d)
	}

	// a round where one side shards differently merges as one model, into
	// the base's shards: the base scaled by 3, byte for byte
	if err := r.Switch(ctx, "c", repo.SwitchOptions{Create: true, Start: base.String(), Force: true}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(folder)
	copyDir(t, filepath.Join(tmp, "resharded4"), folder)
	if err := r.Add(ctx, []string{folder}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, repo.CommitOptions{Message: "c, resharded"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Switch(ctx, "round2", repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(ctx, r, []string{"a", "c"}, Options{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tmp, "want2", "config.json"), cfg, 0o644) // a's edit
	sameDir(t, folder, filepath.Join(tmp, "want2"))
}
