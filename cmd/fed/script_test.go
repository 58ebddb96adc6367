package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fed": func() {
			// Test hook: check out as on a case-insensitive, Unicode-
			// normalising file system (macOS, Windows), which Linux test
			// machines cannot mount.
			repo.TestFoldingFS = os.Getenv("FED_TEST_FOLDING_FS") != ""
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// testSeed makes the default key of every script, so scripts know its
// public key ($PUBKEY).
var testSeed = bytes.Repeat([]byte{7}, 32)

func TestScripts(t *testing.T) {
	dir, err := os.MkdirTemp("", "fed-zk-keys-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	zkScriptCache = zk.NewCache(dir)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			// HOME is beside $WORK (inside testscript's temporary root),
			// so that the key and config files in it are not untracked
			// files of a repository made at $WORK.
			home := env.WorkDir + "-home"
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			k := objects.KeypairFromSeed(testSeed)
			if err := k.Save(filepath.Join(home, ".config", "solana", "id.json")); err != nil {
				return err
			}
			env.Setenv("PUBKEY", k.Public().String())
			// Background servers run with --parent $TESTPID: they stop with
			// the test binary even when it dies without killing them.
			env.Setenv("TESTPID", strconv.Itoa(os.Getpid()))
			env.Setenv("FED_ZK_CACHE", zkScriptCache.Dir)
			return setupRemote(env)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":    cmdExitcode,
			"genmodel":    cmdGenmodel,
			"nudge":       cmdNudge,
			"setmeta":     cmdSetmeta,
			"mkkey":       cmdMkkey,
			"badsig":      cmdBadsig,
			"corrupt":     cmdCorrupt,
			"packs":       cmdPacks,
			"jsonfield":   cmdJSONField,
			"zkkeys":      cmdZKKeys,
			"zkceremony":  cmdZKCeremony,
			"tamperproof": cmdTamperProof,
			"withhold":    cmdWithhold,
			"envfile":     cmdEnvFile,
			"waitfile":    cmdWaitFile,
			"protect":     cmdProtect,
			"mkcert":      cmdMkcert,
			"httpget":     cmdHTTPGet,
			"s3server":    cmdS3Server,
			"pgdb":        cmdPGDB,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "pg": // PostgreSQL's binaries are installed (pgdb works)
				return testpg.Bin() != "", nil
			case "versitygw": // a real S3 server can be started (s3server works)
				_, err := s3test.Binary()
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// exitcode N CMD ARGS... runs a command and checks its exit code; its
// output is kept for stdout/stderr checks.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command args...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// genmodel FILE SEED [NAME=SHAPE...] writes a safetensors file of F32
// tensors with values drawn from SEED; SHAPE is "N" or "AxB...".
// Default tensors: w=64x32 b=32.
func cmdGenmodel(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: genmodel FILE SEED [NAME[*COUNT]=SHAPE...]")
	}
	seed, err := strconv.ParseUint(args[1], 10, 64)
	ts.Check(err)
	specs := args[2:]
	if len(specs) == 0 {
		specs = []string{"w=64x32", "b=32"}
	}
	var tensors []modelTensor
	for _, s := range specs {
		name, shape, ok := strings.Cut(s, "=")
		if !ok {
			ts.Fatalf("genmodel: %q: want NAME=SHAPE", s)
		}
		var dims []uint64
		for _, d := range strings.Split(shape, "x") {
			n, err := strconv.ParseUint(d, 10, 64)
			ts.Check(err)
			dims = append(dims, n)
		}
		// NAME*COUNT: COUNT tensors NAME0, NAME1, ... of that shape
		if base, count, ok := strings.Cut(name, "*"); ok {
			k, err := strconv.Atoi(count)
			ts.Check(err)
			for i := range k {
				tensors = append(tensors, modelTensor{fmt.Sprintf("%s%d", base, i), dims})
			}
			continue
		}
		tensors = append(tensors, modelTensor{name, dims})
	}
	var buf bytes.Buffer
	ts.Check(writeModel(&buf, seed, tensors))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), buf.Bytes(), 0o644))
}

type modelTensor struct {
	name  string
	shape []uint64
}

// writeModel writes a deterministic F32 safetensors model: a tensor's
// values depend only on seed and its name.
func writeModel(w *bytes.Buffer, seed uint64, tensors []modelTensor) error {
	var ws []safetensors.WriteTensor
	for _, t := range tensors {
		// values depend on the seed and the tensor's name only
		h := fnv.New64a()
		h.Write([]byte(t.name))
		rng := rand.New(rand.NewPCG(seed, h.Sum64()))
		n := uint64(1)
		for _, d := range t.shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := uint64(0); i < n; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(rng.NormFloat64())))
		}
		ws = append(ws, safetensors.WriteTensor{Info: codec.TensorInfo{Name: t.name, DType: objects.F32, Shape: t.shape},
			Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	return safetensors.Write(w, map[string]string{"format": "pt"}, ws)
}

// setmeta FILE [KEY=VALUE...] replaces the metadata of a model file
// (safetensors __metadata__) with the pairs given, in place.
func cmdSetmeta(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: setmeta FILE [KEY=VALUE...]")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	meta := map[string]string{}
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("setmeta: %q: want KEY=VALUE", kv)
		}
		meta[k] = v
	}
	l, err := codec.Parse(bytes.NewReader(b), int64(len(b)), path)
	ts.Check(err)
	edits, err := codec.SetMeta(bytes.NewReader(b), l, meta)
	ts.Check(err)
	raw := make([][]byte, len(l.Segments))
	for i, s := range l.Segments {
		if s.Tensor == nil {
			raw[i] = b[s.Offset : s.Offset+s.Length]
		}
	}
	pieces, err := codec.ApplyEdits(l, raw, edits)
	ts.Check(err)
	var out []byte
	for _, p := range pieces {
		if p.Tensor < 0 {
			out = append(out, p.Raw...)
		} else {
			s := l.Segments[p.Tensor]
			out = append(out, b[s.Offset:s.Offset+s.Length]...)
		}
	}
	ts.Check(os.WriteFile(path, out, 0o644))
}

// nudge FILE TENSOR INDEX DELTA adds DELTA to element INDEX of an F32
// tensor of a safetensors file, in place.
func cmdNudge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: nudge FILE TENSOR INDEX DELTA")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	idx, err := strconv.Atoi(args[2])
	ts.Check(err)
	delta, err := strconv.ParseFloat(args[3], 64)
	ts.Check(err)
	n := binary.LittleEndian.Uint64(b)
	var header map[string]json.RawMessage
	ts.Check(json.Unmarshal(b[8:8+n], &header))
	raw, ok := header[args[1]]
	if !ok {
		ts.Fatalf("nudge: no tensor %q", args[1])
	}
	var info struct {
		DType   string   `json:"dtype"`
		Offsets []uint64 `json:"data_offsets"`
	}
	ts.Check(json.Unmarshal(raw, &info))
	if info.DType != "F32" {
		ts.Fatalf("nudge: tensor %q is %s, not F32", args[1], info.DType)
	}
	off := 8 + n + info.Offsets[0] + uint64(4*idx)
	if off+4 > 8+n+info.Offsets[1] {
		ts.Fatalf("nudge: index %d out of range", idx)
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))
	binary.LittleEndian.PutUint32(b[off:], math.Float32bits(v+float32(delta)))
	ts.Check(os.WriteFile(path, b, 0o644))
}

// mkkey FILE VAR writes a new keypair to FILE and sets $VAR to its
// public key.
func cmdMkkey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkkey FILE VAR")
	}
	k, err := objects.GenerateKeypair()
	ts.Check(err)
	ts.Check(k.Save(ts.MkAbs(args[0])))
	ts.Setenv(args[1], k.Public().String())
}

// badsig makes a commit on top of HEAD whose signature does not match its
// content (a copy of HEAD's signature), and moves the branch to it.
func cmdBadsig(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: badsig")
	}
	ctx := context.Background()
	r, err := repo.Open(ts.MkAbs("."))
	ts.Check(err)
	head, _, err := r.Head()
	ts.Check(err)
	c, err := objects.ReadCommit(ctx, r.Objects, head)
	ts.Check(err)
	forged := *c
	forged.Parents = []objects.ID{head}
	forged.Message = "forged\n"
	forged.Time++
	id, err := objects.Write(ctx, r.Objects, &forged)
	ts.Check(err)
	ts.Check(r.Refs.UpdateHead(head, id, refs.Entry{Message: "forged"}))
}

// corrupt REV flips a byte of the stored object of commit REV.
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: corrupt REV")
	}
	r, err := repo.Open(ts.MkAbs("."))
	ts.Check(err)
	id, err := r.Resolve(context.Background(), args[0])
	ts.Check(err)
	h := id.String()
	disk, err := r.Disk()
	ts.Check(err)
	p := filepath.Join(disk.Dir(), h[:2], h[2:])
	b, err := os.ReadFile(p)
	ts.Check(err)
	b[len(b)-1] ^= 0xff
	ts.Check(os.Chmod(p, 0o644))
	ts.Check(os.WriteFile(p, b, 0o644))
}

// packs N checks that the repository's object store holds N pack files
// (design §6b).
func cmdPacks(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: packs N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got, err := filepath.Glob(filepath.Join(ts.MkAbs(".fed"), "objects", "pack", "*.pack"))
	ts.Check(err)
	if len(got) != want {
		ts.Fatalf("%d pack files, want %d: %v", len(got), want, got)
	}
}

// jsonfield FILE PATH WANT checks a value in a JSON file (stdout saved with
// cp): PATH is dot-separated keys and array indexes ("0.meta.samples"),
// WANT a regular expression the whole value (printed with %v) must match.
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonfield FILE PATH WANT")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var v any
	ts.Check(json.Unmarshal(b, &v))
	for _, k := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("jsonfield: %s: no index %s", args[1], k)
			}
			v = x[i]
		default:
			ts.Fatalf("jsonfield: %s: cannot index %T with %s", args[1], v, k)
		}
	}
	got := fmt.Sprint(v)
	if v == nil {
		got = "null"
	}
	re, err := regexp.Compile("^(?:" + args[2] + ")$")
	ts.Check(err)
	if re.MatchString(got) == neg {
		ts.Fatalf("jsonfield %s = %q, want %s%q", args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

// zkScriptCache is the key cache every script shares ($FED_ZK_CACHE):
// zkkeys makes keys in this process, once per shape, so that scripts
// running in parallel never set up the same shape at once.
var zkScriptCache *zk.Cache

// zkkeys CHUNK SHAPE... makes development keys in the shared cache unless
// it has them. SHAPE is commit, update:LINF or mergeK:TOTALWEIGHT.
func cmdZKKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: zkkeys CHUNK commit|update:LINF|mergeK:W...")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	for _, a := range args[1:] {
		kind, param, _ := strings.Cut(a, ":")
		st := zk.Statement{ChunkSize: n}
		switch {
		case kind == "commit":
		case kind == "update":
			linf, err := strconv.ParseFloat(param, 64)
			ts.Check(err)
			st.Parents = make([]*zk.Values, 1)
			st.Linf, err = zk.QuantBound(linf)
			ts.Check(err)
		case strings.HasPrefix(kind, "merge"):
			k, err := strconv.Atoi(strings.TrimPrefix(kind, "merge"))
			ts.Check(err)
			w, err := strconv.ParseUint(param, 10, 64)
			ts.Check(err)
			st.Parents, st.Weights = make([]*zk.Values, k), []uint64{w}
		default:
			ts.Fatalf("zkkeys: unknown shape %q", a)
		}
		_, err := zkScriptCache.Setup(context.Background(), st.ShapeOf())
		ts.Check(err)
	}
}

// zkceremony SHAPE PK VK writes the gnark-encoded proving and verifying
// keys of a one-contributor multi-party setup for SHAPE (as v2-commit-n8):
// the files a ceremony hands out, for 'fed zk import'.
func cmdZKCeremony(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: zkceremony SHAPE PK VK")
	}
	sh, err := zk.ParseShape(args[0])
	ts.Check(err)
	pk, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	defer pk.Close()
	vk, err := os.Create(ts.MkAbs(args[2]))
	ts.Check(err)
	defer vk.Close()
	ts.Check(zkScriptCache.WriteCeremonyKeys(sh, pk, vk))
}

// tamperproof REV CHUNK flips a bit of the Groth16 proof of chunk CHUNK in
// the proof attached to REV, stores the altered proof object (a valid
// object with a wrong proof) and points the proof ref at it.
func cmdTamperProof(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tamperproof REV CHUNK")
	}
	ctx := context.Background()
	r, err := repo.Open(ts.MkAbs("."))
	ts.Check(err)
	id, err := r.Resolve(ctx, args[0])
	ts.Check(err)
	chunk, err := strconv.Atoi(args[1])
	ts.Check(err)
	pid, err := r.Refs.Read(repo.ProofRef(id))
	ts.Check(err)
	o, err := objects.Read(ctx, r.Objects, pid, objects.KindProof)
	ts.Check(err)
	p := *o.(*objects.Proof)
	body, err := zk.DecodeBody(p.Body)
	ts.Check(err)
	if chunk < 0 || chunk >= len(body.Proofs) {
		ts.Fatalf("tamperproof: chunk %d of %d", chunk, len(body.Proofs))
	}
	body.Proofs[chunk] = append([]byte(nil), body.Proofs[chunk]...)
	body.Proofs[chunk][40] ^= 0x10
	p.Body = body.Encode()
	bad, err := objects.Write(ctx, r.Objects, &p)
	ts.Check(err)
	ts.Check(r.Refs.Update(repo.ProofRef(id), pid, bad, refs.Entry{Message: "tamper"}))
}

// withhold REV deletes the tensor objects of REV's models that HEAD's
// models do not share, as if the contributor had kept its weights private,
// and lists them in .fed/withheld, as a fetch of a private push does.
func cmdWithhold(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: withhold REV")
	}
	ctx := context.Background()
	r, err := repo.Open(ts.MkAbs("."))
	ts.Check(err)
	tensors := func(rev string) map[objects.ID]bool {
		id, err := r.Resolve(ctx, rev)
		ts.Check(err)
		files, err := r.CommitFiles(ctx, id)
		ts.Check(err)
		out := map[objects.ID]bool{}
		for _, f := range files {
			if f.Kind != objects.KindModel {
				continue
			}
			m, err := objects.ReadModel(ctx, r.Objects, f.ID)
			ts.Check(err)
			for _, s := range m.Segments {
				if s.IsTensor() {
					out[s.ID] = true
				}
			}
		}
		return out
	}
	keep := tensors("HEAD")
	var list strings.Builder
	for id := range tensors(args[0]) {
		if !keep[id] {
			ts.Check(r.Objects.Delete(ctx, id))
			list.WriteString(id.String() + "\n")
		}
	}
	if list.Len() == 0 {
		ts.Fatalf("withhold: %s has no tensors that HEAD lacks", args[0])
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, "withheld"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	ts.Check(err)
	_, err = f.WriteString(list.String())
	ts.Check(err)
	ts.Check(f.Close())
}

// pgdb NAME sets $NAME to the URL of a new, empty PostgreSQL database in
// a cluster the test binary starts once (internal/testpg) and its
// watchdog stops when the binary exits. Scripts guard it with [pg].
func cmdPGDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgdb NAME")
	}
	url, err := testpg.NewDB()
	ts.Check(err)
	ts.Setenv(args[0], url)
}
