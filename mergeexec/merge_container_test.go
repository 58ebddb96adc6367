package mergeexec

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// writeSafetensors writes F32 tensors (name → values) with metadata.
func writeSafetensors(t *testing.T, path string, meta map[string]string, tensors map[string][]float32) {
	t.Helper()
	var ts []safetensors.WriteTensor
	for name, v := range tensors {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: name, DType: objects.F32, Shape: []uint64{uint64(len(v))}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, meta, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// round commits base as the first commit, then one branch per side file
// (each started from base) and switches back to main.
func round(t *testing.T, r *repo.Repo, name string, base func(path string), sides ...func(path string)) {
	t.Helper()
	ctx := context.Background()
	p := filepath.Join(r.Root, name)
	base(p)
	if err := r.Add(ctx, []string{p}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	for i, side := range sides {
		br := string(rune('a' + i))
		if err := r.Switch(ctx, br, repo.SwitchOptions{Create: true, Start: b.String()}); err != nil {
			t.Fatal(err)
		}
		side(p)
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: br, All: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func metaOf(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, h, err := safetensors.Parse(bytes.NewReader(b), int64(len(b)), path)
	if err != nil {
		t.Fatal(err)
	}
	return h.Metadata
}

// TestMergeSafetensorsMetadata: contributors who write their own
// __metadata__ (client id, sample count, round) merge: metadata merges key
// by key against the base, keys changed differently on several sides keep
// the base's value (or follow --metadata) and are recorded in the commit.
func TestMergeSafetensorsMetadata(t *testing.T) {
	ctx := context.Background()
	baseMeta := map[string]string{"format": "pt", "round": "1", "dataset": "digits"}
	w := map[string][]float32{"fc.weight": {1, 2, 3, 4}, "fc.bias": {0.5, -1}}
	scaled := func(f float32) map[string][]float32 {
		out := map[string][]float32{}
		for k, v := range w {
			for _, x := range v {
				out[k] = append(out[k], x*f)
			}
		}
		return out
	}
	sides := []func(string){
		func(p string) {
			writeSafetensors(t, p, map[string]string{"format": "pt", "round": "2", "dataset": "digits", "client": "a", "num_examples": "278"}, scaled(2))
		},
		func(p string) {
			writeSafetensors(t, p, map[string]string{"format": "pt", "round": "2", "client": "b", "num_examples": "301", "epoch": "3"}, scaled(4))
		},
	}
	for _, tc := range []struct {
		policy string
		want   map[string]string
	}{
		{"", map[string]string{"format": "pt", "round": "2", "epoch": "3"}},
		{MetaBase, map[string]string{"format": "pt", "round": "2", "epoch": "3"}},
		{MetaUnion, map[string]string{"format": "pt", "round": "2", "epoch": "3", "client": `["a","b"]`, "num_examples": `["278","301"]`}},
	} {
		t.Run("policy="+tc.policy, func(t *testing.T) {
			r := newTestRepo(t)
			round(t, r, "model.safetensors", func(p string) { writeSafetensors(t, p, baseMeta, w) }, sides...)
			res, err := Merge(ctx, r, []string{"a", "b"}, Options{Metadata: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(r.Root, "model.safetensors")
			// dataset: deleted by b only; round: the same change on both
			if got := metaOf(t, p); !maps.Equal(got, tc.want) {
				t.Errorf("merged metadata %v, want %v", got, tc.want)
			}
			if got := readTensorF32(t, r, res.Commit, "model.safetensors", "fc.weight"); got[3] != 12 {
				t.Errorf("fc.weight %v, want the mean of 2× and 4×", got)
			}
			if len(res.Metadata) != 2 || res.Metadata[0].Key != "client" || res.Metadata[1].Key != "num_examples" ||
				res.Metadata[0].Base != nil || *res.Metadata[0].Sides[0] != "a" || *res.Metadata[0].Sides[1] != "b" {
				t.Fatalf("metadata conflicts %+v", res.Metadata)
			}
			c, _ := objects.ReadCommit(ctx, r.Objects, res.Commit)
			rec, _ := c.Value(MetaMergeMetadata)
			var got []MetaConflict
			if err := json.Unmarshal([]byte(rec), &got); err != nil || len(got) != 2 || got[1].Path != "model.safetensors" {
				t.Fatalf("commit records %s: %v", rec, err)
			}
			if st, err := r.Status(ctx); err != nil || len(st) != 0 {
				t.Fatalf("working tree after the merge: %+v %v", st, err)
			}
		})
	}
	t.Run("policy=fail", func(t *testing.T) {
		r := newTestRepo(t)
		round(t, r, "model.safetensors", func(p string) { writeSafetensors(t, p, baseMeta, w) }, sides...)
		_, err := Merge(ctx, r, []string{"a", "b"}, Options{Metadata: MetaFail})
		var ce *repo.ConflictError
		if !errors.As(err, &ce) || !strings.Contains(strings.Join(ce.Items, "\n"), `metadata key "client"`) {
			t.Fatalf("merge with --metadata fail: %v", err)
		}
	})
	t.Run("tensor layout still conflicts", func(t *testing.T) {
		r := newTestRepo(t)
		round(t, r, "model.safetensors", func(p string) { writeSafetensors(t, p, baseMeta, w) },
			sides[0], func(p string) {
				writeSafetensors(t, p, baseMeta, map[string][]float32{"fc.weight": {1, 2, 3, 4, 5}, "fc.bias": {0, 0}})
			})
		_, err := Merge(ctx, r, []string{"a", "b"}, Options{})
		var ce *repo.ConflictError
		if !errors.As(err, &ce) || !strings.Contains(strings.Join(ce.Items, "\n"), "fc.weight") {
			t.Fatalf("merge of different shapes: %v", err)
		}
	})
}

// TestMergeContainerDetails: files written the way scripts write them —
// torch.save under each contributor's own file name, np.savez with the
// members in another order — merge into the base's container, byte for
// byte the base with every F32 tensor scaled by 3 (the mean of 2× and 4×).
func TestMergeContainerDetails(t *testing.T) {
	py := "/usr/bin/python3"
	for _, tc := range []struct {
		name, module, script string
	}{
		{"model.pt", "torch", `
import sys, torch
torch.manual_seed(0)
sd = {"fc.weight": torch.randn(4, 3), "fc.bias": torch.randn(4), "bn.num_batches_tracked": torch.tensor(5)}
tmp = sys.argv[1]
torch.save(sd, tmp + "/base.pt")
for f, who in ((2, "alice_round3"), (4, "bob_final")):
    torch.save({k: (v * f if v.is_floating_point() else v) for k, v in sd.items()}, tmp + "/" + who + ".pt")
`},
		{"model.npz", "numpy", `
import sys, numpy as np
rng = np.random.default_rng(0)
a, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
tmp = sys.argv[1]
np.savez(tmp + "/base.npz", w=a, b=b)
np.savez(tmp + "/alice_round3.npz", b=b * 2, w=a * 2)
np.savez(tmp + "/bob_final.npz", w=a * 4, b=b * 4)
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if exec.Command(py, "-c", "import "+tc.module).Run() != nil {
				t.Skipf("%s cannot import %s (apt-get install python3-%s)", py, tc.module, tc.module)
			}
			tmp := t.TempDir()
			if out, err := exec.Command(py, "-c", tc.script, tmp).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			ext := filepath.Ext(tc.name)
			cp := func(src string) func(string) {
				return func(p string) {
					b, err := os.ReadFile(filepath.Join(tmp, src+ext))
					if err != nil {
						t.Fatal(err)
					}
					os.WriteFile(p, b, 0o644)
				}
			}
			a, _ := os.ReadFile(filepath.Join(tmp, "alice_round3"+ext))
			b, _ := os.ReadFile(filepath.Join(tmp, "bob_final"+ext))
			if bytes.Equal(a[:200], b[:200]) {
				t.Fatal("the contributors' files do not differ in their container")
			}
			r := newTestRepo(t)
			round(t, r, tc.name, cp("base"), cp("alice_round3"), cp("bob_final"))
			if _, err := Merge(context.Background(), r, []string{"a", "b"}, Options{}); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(r.Root, tc.name))
			want := filepath.Join(tmp, "want"+ext)
			scaleF32(t, filepath.Join(tmp, "base"+ext), want, 3)
			if wb, _ := os.ReadFile(want); !bytes.Equal(got, wb) {
				t.Fatalf("merged %s is not the base's container with the tensors scaled by 3", tc.name)
			}
		})
	}
}

// TestMergeONNXMetadata: ONNX exports that differ in producer_version,
// doc_string and metadata_props merge; those fields merge key by key like
// safetensors metadata, and onnx loads the result.
func TestMergeONNXMetadata(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import onnx, numpy").Run() != nil {
		t.Skipf("%s cannot import onnx and numpy (apt-get install python3-onnx)", py)
	}
	tmp := t.TempDir()
	script := `
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
tmp = sys.argv[1]
rng = np.random.default_rng(0)
W, B = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
def save(name, f, version, props, doc=None):
    g = helper.make_graph([helper.make_node("Gemm", ["x", "W", "B"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(W * f, "W"), numpy_helper.from_array(B * f, "B")])
    m = helper.make_model(g, producer_name="pytorch", producer_version=version)
    if doc: m.doc_string = doc
    helper.set_model_props(m, props)
    onnx.save(m, tmp + "/" + name + ".onnx")
save("base", 1, "1.13.1", {"round": "1"})
save("alice", 2, "1.13.1+cpu", {"round": "2", "client": "alice"}, doc="alice's export")
save("bob", 4, "2.0.1", {"round": "2", "client": "bob"})
`
	if out, err := exec.Command(py, "-c", script, tmp).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cp := func(src string) func(string) {
		return func(p string) {
			b, err := os.ReadFile(filepath.Join(tmp, src+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, b, 0o644)
		}
	}
	r := newTestRepo(t)
	round(t, r, "model.onnx", cp("base"), cp("alice"), cp("bob"))
	res, err := Merge(context.Background(), r, []string{"a", "b"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range res.Metadata {
		keys = append(keys, m.Key)
	}
	if strings.Join(keys, " ") != "metadata_props/client producer_version" {
		t.Errorf("metadata conflicts %q", keys)
	}
	out, err := exec.Command(py, "-c", `
import sys, onnx
from onnx import numpy_helper
m, b = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
onnx.checker.check_model(m)
for x, y in zip(m.graph.initializer, b.graph.initializer):
    assert x.name == y.name and (numpy_helper.to_array(x) == numpy_helper.to_array(y) * 3).all(), x.name
print(m.producer_name, m.producer_version, repr(m.doc_string), sorted((p.key, p.value) for p in m.metadata_props))
`, filepath.Join(r.Root, "model.onnx"), filepath.Join(tmp, "base.onnx")).CombinedOutput()
	want := `pytorch 1.13.1 "alice's export" [('round', '2')]`
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("onnx of the merge: %v\n%s\nwant %s", err, out, want)
	}
}
