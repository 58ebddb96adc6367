package remote_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

var update = flag.Bool("update", false, "rewrite doc/vectors")

const vectorDir = "../doc/vectors"

func vecKey() *objects.Keypair { return objects.KeypairFromSeed(bytes.Repeat([]byte{7}, 32)) }

func vecID(s string) objects.ID { return objects.Sum([]byte(s)) }

type loginVector struct {
	SeedHex   string    `json:"seed_hex"`
	Address   string    `json:"address"`
	Domain    string    `json:"domain"`
	URI       string    `json:"uri"`
	ChainID   string    `json:"chain_id"`
	Nonce     string    `json:"nonce"`
	IssuedAt  time.Time `json:"issued_at"`
	Message   string    `json:"message"`
	Signature string    `json:"signature"`
}

type pushVector struct {
	SeedHex    string             `json:"seed_hex"`
	Repository string             `json:"repository"`
	Server     string             `json:"server"`
	Pusher     string             `json:"pusher"`
	Time       time.Time          `json:"time"`
	Updates    []remote.RefUpdate `json:"updates"`
	Withheld   []objects.ID       `json:"withheld,omitempty"`
	Private    []objects.ID       `json:"private,omitempty"`
	Statement  string             `json:"statement"`
	Signature  string             `json:"signature"`
}

type frameVector struct {
	ID         objects.ID `json:"id"`
	Form       byte       `json:"form"`
	PayloadHex string     `json:"payload_hex"`
}

type streamVector struct {
	Frames    []frameVector `json:"frames"`
	StreamHex string        `json:"stream_hex"`
}

func writeVector(t *testing.T, name string, v any) {
	t.Helper()
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.MarshalIndent(v, "", "  "); err != nil {
			t.Fatal(err)
		}
		b = append(b, '\n')
	}
	p := filepath.Join(vectorDir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readVector(t *testing.T, name string, v any) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatalf("%v (run go test ./remote -run Vectors -update)", err)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

func TestVectorsLogin(t *testing.T) {
	k := vecKey()
	m := remote.SignInMessage{Domain: "fed.example.org:8417", Address: k.Public().String(), URI: "http://fed.example.org:8417", ChainID: "mainnet",
		Nonce: "0123456789abcdef0123456789abcdef", IssuedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	if *update {
		writeVector(t, "login-message.txt", m.String())
		writeVector(t, "login.json", loginVector{SeedHex: hex.EncodeToString(bytes.Repeat([]byte{7}, 32)), Address: m.Address, Domain: m.Domain, URI: m.URI,
			ChainID: m.ChainID, Nonce: m.Nonce, IssuedAt: m.IssuedAt, Message: m.String(), Signature: objects.Base58(k.Sign([]byte(m.String())))})
	}
	var v loginVector
	readVector(t, "login.json", &v)
	text := string(readVector(t, "login-message.txt", nil))
	seed, _ := hex.DecodeString(v.SeedHex)
	key := objects.KeypairFromSeed(seed)
	got := remote.SignInMessage{Domain: v.Domain, Address: v.Address, URI: v.URI, ChainID: v.ChainID, Nonce: v.Nonce, IssuedAt: v.IssuedAt}.String()
	if got != text || got != v.Message {
		t.Fatalf("sign-in message:\n%q\nvector:\n%q", got, text)
	}
	parsed, err := remote.ParseSignInMessage(text)
	if err != nil || parsed.String() != text || parsed.Address != key.Public().String() {
		t.Fatalf("parse vector message: %+v %v", parsed, err)
	}
	if sig := objects.Base58(key.Sign([]byte(text))); sig != v.Signature {
		t.Fatalf("signature %s, vector %s", sig, v.Signature)
	}
	sig, err := remote.DecodeSignature(v.Signature)
	if err != nil || !objects.Verify(key.Public(), []byte(text), sig) {
		t.Fatalf("vector signature does not verify: %v", err)
	}
	if !strings.HasPrefix(text, v.Domain+" wants you to sign in with your Solana account:\n"+v.Address+"\n\n") {
		t.Fatal("vector message does not start like a Sign-In-With-Solana text")
	}
}

func TestVectorsPushStatement(t *testing.T) {
	k := vecKey()
	ups := []remote.RefUpdate{
		{Name: "refs/heads/main", Old: vecID("c1"), New: vecID("c2")},
		{Name: "refs/tags/v2", New: vecID("c2")},
		{Name: "refs/heads/old", Old: vecID("c0"), Force: true},
	}
	at := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	if *update {
		text := remote.Statement("alice/mnist", "fed.example.org:8417", k.Public(), at, ups)
		writeVector(t, "push-statement.txt", text)
		writeVector(t, "push.json", pushVector{SeedHex: hex.EncodeToString(bytes.Repeat([]byte{7}, 32)), Repository: "alice/mnist", Server: "fed.example.org:8417",
			Pusher: k.Public().String(), Time: at, Updates: ups, Statement: text, Signature: objects.Base58(k.Sign([]byte(text)))})
	}
	var v pushVector
	readVector(t, "push.json", &v)
	text := string(readVector(t, "push-statement.txt", nil))
	pub, err := objects.ParsePublicKey(v.Pusher)
	if err != nil {
		t.Fatal(err)
	}
	got := remote.Statement(v.Repository, v.Server, pub, v.Time, v.Updates)
	if got != text || got != v.Statement {
		t.Fatalf("statement:\n%s\nvector:\n%s", got, text)
	}
	sig, err := remote.DecodeSignature(v.Signature)
	if err != nil || !objects.Verify(pub, []byte(text), sig) {
		t.Fatalf("vector push signature does not verify: %v", err)
	}
	// The request the statement belongs to decodes and passes the checks.
	req := remote.UpdateRequest{Updates: v.Updates, Time: v.Time, Signature: v.Signature}
	b, _ := json.Marshal(req)
	if _, err := remote.UnmarshalJSON[remote.UpdateRequest](b); err != nil {
		t.Fatal(err)
	}
}

// TestVectorsPushWithheld checks the statement of a push that withholds
// weights (feature withheld-weights): the withheld ids are signed, one
// "withhold" line each after the updates.
func TestVectorsPushWithheld(t *testing.T) {
	k := vecKey()
	ups := []remote.RefUpdate{
		{Name: "refs/proofs/" + vecID("c2").String(), New: vecID("p2")},
		{Name: "refs/heads/alice", Old: vecID("c1"), New: vecID("c2")},
	}
	withheld := []objects.ID{vecID("tensor w"), vecID("tensor b")}
	at := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	if *update {
		text := remote.StatementWithheld("lab/mnist", "fed.example.org:8417", k.Public(), at, ups, withheld)
		writeVector(t, "push-withheld-statement.txt", text)
		writeVector(t, "push-withheld.json", pushVector{SeedHex: hex.EncodeToString(bytes.Repeat([]byte{7}, 32)), Repository: "lab/mnist", Server: "fed.example.org:8417",
			Pusher: k.Public().String(), Time: at, Updates: ups, Withheld: withheld, Statement: text, Signature: objects.Base58(k.Sign([]byte(text)))})
	}
	var v pushVector
	readVector(t, "push-withheld.json", &v)
	text := string(readVector(t, "push-withheld-statement.txt", nil))
	pub, err := objects.ParsePublicKey(v.Pusher)
	if err != nil {
		t.Fatal(err)
	}
	got := remote.StatementWithheld(v.Repository, v.Server, pub, v.Time, v.Updates, v.Withheld)
	if got != text || got != v.Statement {
		t.Fatalf("statement:\n%s\nvector:\n%s", got, text)
	}
	if want := remote.Statement(v.Repository, v.Server, pub, v.Time, v.Updates); !strings.HasPrefix(text, want) || strings.Count(text[len(want):], "withhold ") != len(v.Withheld) {
		t.Fatalf("statement is not the plain statement followed by one withhold line per id:\n%s", text)
	}
	sig, err := remote.DecodeSignature(v.Signature)
	if err != nil || !objects.Verify(pub, []byte(text), sig) {
		t.Fatalf("vector push signature does not verify: %v", err)
	}
	if objects.Verify(pub, []byte(remote.StatementWithheld(v.Repository, v.Server, pub, v.Time, v.Updates, v.Withheld[:1])), sig) {
		t.Fatal("signature verifies with a withheld id left out")
	}
	req := remote.UpdateRequest{Updates: v.Updates, Withheld: v.Withheld, Time: v.Time, Signature: v.Signature}
	b, _ := json.Marshal(req)
	if _, err := remote.UnmarshalJSON[remote.UpdateRequest](b); err != nil {
		t.Fatal(err)
	}
	// zero ids and oversized lists are refused by the decoder
	for _, bad := range [][]objects.ID{{objects.ZeroID}, make([]objects.ID, remote.MaxBatch+1)} {
		req.Withheld = bad
		b, _ := json.Marshal(req)
		if _, err := remote.UnmarshalJSON[remote.UpdateRequest](b); err == nil {
			t.Errorf("decoder accepts withheld list of %d ids", len(bad))
		}
	}
}

// TestVectorsPushPrivate checks the statement of a push that marks
// weights private (feature private-weights): one "private" line per id,
// after the withhold lines.
func TestVectorsPushPrivate(t *testing.T) {
	k := vecKey()
	ups := []remote.RefUpdate{{Name: "refs/heads/alice", Old: vecID("c1"), New: vecID("c2")}}
	private := []objects.ID{vecID("tensor w"), vecID("tensor b")}
	at := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	if *update {
		text := remote.StatementPrivate("lab/mnist", "fed.example.org:8417", k.Public(), at, ups, nil, private)
		writeVector(t, "push-private-statement.txt", text)
		writeVector(t, "push-private.json", pushVector{SeedHex: hex.EncodeToString(bytes.Repeat([]byte{7}, 32)), Repository: "lab/mnist", Server: "fed.example.org:8417",
			Pusher: k.Public().String(), Time: at, Updates: ups, Private: private, Statement: text, Signature: objects.Base58(k.Sign([]byte(text)))})
	}
	var v pushVector
	readVector(t, "push-private.json", &v)
	text := string(readVector(t, "push-private-statement.txt", nil))
	pub, err := objects.ParsePublicKey(v.Pusher)
	if err != nil {
		t.Fatal(err)
	}
	got := remote.StatementPrivate(v.Repository, v.Server, pub, v.Time, v.Updates, v.Withheld, v.Private)
	if got != text || got != v.Statement {
		t.Fatalf("statement:\n%s\nvector:\n%s", got, text)
	}
	if want := remote.Statement(v.Repository, v.Server, pub, v.Time, v.Updates); !strings.HasPrefix(text, want) || strings.Count(text[len(want):], "private ") != len(v.Private) {
		t.Fatalf("statement is not the plain statement followed by one private line per id:\n%s", text)
	}
	sig, err := remote.DecodeSignature(v.Signature)
	if err != nil || !objects.Verify(pub, []byte(text), sig) {
		t.Fatalf("vector push signature does not verify: %v", err)
	}
	if objects.Verify(pub, []byte(remote.StatementPrivate(v.Repository, v.Server, pub, v.Time, v.Updates, nil, v.Private[:1])), sig) {
		t.Fatal("signature verifies with a mark left out")
	}
	req := remote.UpdateRequest{Updates: v.Updates, Private: v.Private, Time: v.Time, Signature: v.Signature}
	for _, bad := range [][]objects.ID{{objects.ZeroID}, make([]objects.ID, remote.MaxBatch+1)} {
		req.Private = bad
		b, _ := json.Marshal(req)
		if _, err := remote.UnmarshalJSON[remote.UpdateRequest](b); err == nil {
			t.Errorf("decoder accepts a private list of %d ids", len(bad))
		}
	}
}

func TestVectorsObjectStream(t *testing.T) {
	tree, _ := objects.Encode(&objects.Tree{})
	chunk := objects.EncodeChunk([]byte("hello, fed"))
	frames := []remote.Frame{
		{ID: objects.Sum(tree), Form: remote.FormCanonical, Payload: tree},
		{ID: objects.Sum(chunk), Form: remote.FormStored, Payload: objects.EncodeStored(chunk, 0)},
	}
	if *update {
		var buf bytes.Buffer
		fw := remote.NewFrameWriter(&buf)
		var sv streamVector
		for _, f := range frames {
			fw.WriteFrame(f.ID, f.Form, f.Payload)
			sv.Frames = append(sv.Frames, frameVector{ID: f.ID, Form: f.Form, PayloadHex: hex.EncodeToString(f.Payload)})
		}
		fw.Close()
		sv.StreamHex = hex.EncodeToString(buf.Bytes())
		writeVector(t, "objects-stream.json", sv)
	}
	var sv streamVector
	readVector(t, "objects-stream.json", &sv)
	stream, err := hex.DecodeString(sv.StreamHex)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	fw := remote.NewFrameWriter(&buf)
	for _, f := range sv.Frames {
		p, _ := hex.DecodeString(f.PayloadHex)
		fw.WriteFrame(f.ID, f.Form, p)
	}
	fw.Close()
	if !bytes.Equal(buf.Bytes(), stream) {
		t.Fatal("encoding the vector's frames does not give its stream")
	}
	fr := remote.NewFrameReader(bytes.NewReader(stream), 1<<20)
	for i := 0; ; i++ {
		f, err := fr.Next(nil)
		if err != nil {
			if i != len(sv.Frames) {
				t.Fatalf("stream ended after %d frames: %v", i, err)
			}
			break
		}
		p, _ := hex.DecodeString(sv.Frames[i].PayloadHex)
		if f.ID != sv.Frames[i].ID || f.Form != sv.Frames[i].Form || !bytes.Equal(f.Payload, p) {
			t.Fatalf("frame %d differs", i)
		}
		canon := f.Payload
		if f.Form == remote.FormStored {
			if canon, err = objects.DecodeStored(f.Payload); err != nil {
				t.Fatal(err)
			}
		}
		if objects.Sum(canon) != f.ID {
			t.Fatalf("frame %d does not hash to its id", i)
		}
	}
}

// examples are the example bodies of doc/vectors/examples, by schema name.
func examples() map[string]any {
	k := vecKey().Public().String()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	sig := objects.Base58(vecKey().Sign([]byte("example")))
	base := vecID("base")
	cur := vecID("c3")
	pub, prot := true, []string{"refs/heads/main"}
	mint := objects.KeypairFromSeed(bytes.Repeat([]byte{9}, 32)).Public().String()
	stale := remote.NewProblem(409, remote.CodeStale, "refs/heads/main is now %s", cur)
	stale.Ref, stale.Current = "refs/heads/main", &cur
	inc := remote.NewProblem(422, remote.CodeIncomplete, "1 or more objects reachable from the new ids are missing; upload them first")
	inc.Missing = []objects.ID{vecID("piece")}
	unmet := remote.NewProblem(422, remote.CodePolicyUnmet, "commit %s does not meet the policy %s of refs/heads/main: approvals>=2 (have: 1 approval(s) by %s); attestation accuracy>=0.9 (have: no attestation of accuracy by a listed validator)", cur.Short(), vecID("policy").Short(), k)
	unmet.Ref = "refs/heads/main"
	unmet.Unmet = []remote.Unmet{{Condition: "approvals>=2", Have: "1 approval(s) by " + k}, {Condition: "attestation accuracy>=0.9", Have: "no attestation of accuracy by a listed validator"}}
	return map[string]any{
		"info":              remote.Info{Protocol: 1, Server: "fed-serve", Limits: remote.Limits{MaxObjectSize: 64 << 20, MaxRequestBytes: 1 << 30, MaxJSONBytes: 4 << 20, MaxBatch: 10000}, Features: []string{remote.FeatureWithheld, remote.FeatureDeepen, remote.FeaturePrivate, remote.FeatureProve}},
		"challenge-request": remote.ChallengeRequest{Address: k},
		"challenge":         remote.Challenge{Nonce: "0123456789abcdef0123456789abcdef", Message: "(see login-message.txt)", ExpiresAt: at.Add(5 * time.Minute)},
		"login-request":     remote.LoginRequest{Address: k, Nonce: "0123456789abcdef0123456789abcdef", Signature: sig},
		"login-response":    remote.LoginResponse{Token: "9f2c", Address: k, ExpiresAt: at.Add(time.Hour)},
		"ref-list":          remote.RefList{Head: "refs/heads/main", Refs: []remote.Ref{{Name: "refs/heads/main", ID: vecID("c2")}, {Name: "refs/meta/settings", ID: vecID("settings")}, {Name: "refs/tags/v1", ID: vecID("c1")}}},
		"id-list":           remote.IDList{IDs: []objects.ID{vecID("a"), vecID("b")}},
		"update-request":    remote.UpdateRequest{Updates: []remote.RefUpdate{{Name: "refs/heads/main", Old: vecID("c1"), New: vecID("c2")}, {Name: "refs/proofs/" + vecID("c2").String(), New: vecID("p2")}}, Withheld: []objects.ID{vecID("tensor w")}, Private: []objects.ID{vecID("tensor v")}, Time: at, Signature: sig},
		"update-response":   remote.UpdateResponse{Refs: []remote.Ref{{Name: "refs/heads/main", ID: vecID("c2")}}},
		"plan-request":      remote.PlanRequest{Want: []objects.ID{vecID("c2")}, Have: []objects.ID{vecID("c1")}, Depth: 1},
		"plan":              remote.Plan{Objects: []remote.PlannedObject{{ID: vecID("c2"), Size: 180}, {ID: vecID("piece"), Size: 412, Base: &base}}, Shallow: []objects.ID{vecID("c2")}, Withheld: []objects.ID{vecID("tensor w")}, Private: []objects.ID{vecID("tensor v")}},
		"download-request":  remote.DownloadRequest{IDs: []objects.ID{vecID("piece")}, HaveBases: []objects.ID{base}},
		"upload-response":   remote.UploadResponse{Received: 12, Added: 10, Bytes: 4 << 20},
		"settings": remote.Settings{Owner: k, Public: true, Protected: prot, Collaborators: []string{objects.KeypairFromSeed(bytes.Repeat([]byte{8}, 32)).Public().String()}, NFT: mint,
			ZK: map[string]string{"zk.chunk": "8192", "zk.linf": "0.05"}},
		"settings-update":      remote.SettingsUpdate{Public: &pub, Protected: &prot, NFT: &mint, ZK: map[string]string{"zk.linf": "0.05", "zk.l2": ""}},
		"push-log":             remote.PushLog{Entries: []remote.PushLogEntry{{Time: at, Pusher: k, Updates: []remote.RefUpdate{{Name: "refs/heads/main", Old: vecID("c1"), New: vecID("c2")}}, Withheld: []objects.ID{vecID("tensor w")}, Private: []objects.ID{vecID("tensor v")}, Signature: sig}}},
		"problem":              stale,
		"problem-incomplete":   inc,
		"problem-policy-unmet": unmet,
	}
}

// decoders decode an example with its Go type and its checks.
var decoders = map[string]func([]byte) error{
	"info":               func(b []byte) error { _, err := remote.UnmarshalJSON[remote.Info](b); return err },
	"challenge-request":  func(b []byte) error { _, err := remote.UnmarshalJSON[remote.ChallengeRequest](b); return err },
	"challenge":          func(b []byte) error { _, err := remote.UnmarshalJSON[remote.Challenge](b); return err },
	"login-request":      func(b []byte) error { _, err := remote.UnmarshalJSON[remote.LoginRequest](b); return err },
	"login-response":     func(b []byte) error { _, err := remote.UnmarshalJSON[remote.LoginResponse](b); return err },
	"ref-list":           func(b []byte) error { _, err := remote.UnmarshalJSON[remote.RefList](b); return err },
	"id-list":            func(b []byte) error { _, err := remote.UnmarshalJSON[remote.IDList](b); return err },
	"update-request":     func(b []byte) error { _, err := remote.UnmarshalJSON[remote.UpdateRequest](b); return err },
	"update-response":    func(b []byte) error { _, err := remote.UnmarshalJSON[remote.UpdateResponse](b); return err },
	"plan-request":       func(b []byte) error { _, err := remote.UnmarshalJSON[remote.PlanRequest](b); return err },
	"plan":               func(b []byte) error { _, err := remote.UnmarshalJSON[remote.Plan](b); return err },
	"download-request":   func(b []byte) error { _, err := remote.UnmarshalJSON[remote.DownloadRequest](b); return err },
	"upload-response":    func(b []byte) error { _, err := remote.UnmarshalJSON[remote.UploadResponse](b); return err },
	"settings":           func(b []byte) error { _, err := remote.UnmarshalJSON[remote.Settings](b); return err },
	"settings-update":    func(b []byte) error { _, err := remote.UnmarshalJSON[remote.SettingsUpdate](b); return err },
	"push-log":           func(b []byte) error { _, err := remote.UnmarshalJSON[remote.PushLog](b); return err },
	"problem":            func(b []byte) error { _, err := remote.UnmarshalJSON[remote.Problem](b); return err },
	"problem-incomplete": func(b []byte) error { _, err := remote.UnmarshalJSON[remote.Problem](b); return err },
	"problem-policy-unmet": func(b []byte) error {
		p, err := remote.UnmarshalJSON[remote.Problem](b)
		if err == nil && (p.Code != remote.CodePolicyUnmet || len(p.Unmet) != 2) {
			err = fmt.Errorf("decoded as %+v", p)
		}
		return err
	},
}

// TestVectorsExamples checks every example body against its JSON Schema
// and its Go decoder, and that every schema has an example.
func TestVectorsExamples(t *testing.T) {
	if *update {
		for name, v := range examples() {
			writeVector(t, "examples/"+name+".json", v)
		}
	}
	schemas, _ := filepath.Glob("../doc/schemas/*.schema.json")
	if len(schemas) == 0 {
		t.Fatal("no schemas")
	}
	covered := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(vectorDir, "examples", "*.json"))
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		schemaName := name
		if strings.HasPrefix(name, "problem-") {
			schemaName = "problem" // problem-incomplete, problem-policy-unmet: one schema
		}
		t.Run(name, func(t *testing.T) {
			b, _ := os.ReadFile(f)
			sb, err := os.ReadFile("../doc/schemas/" + schemaName + ".schema.json")
			if err != nil {
				t.Fatalf("no schema for example %s: %v", name, err)
			}
			var schema, doc any
			if err := json.Unmarshal(sb, &schema); err != nil {
				t.Fatalf("schema: %v", err)
			}
			json.Unmarshal(b, &doc)
			if errs := validate(schema.(map[string]any), schema.(map[string]any), doc, "$"); len(errs) > 0 {
				t.Fatalf("example does not match its schema: %v", errs)
			}
			dec, ok := decoders[name]
			if !ok {
				t.Fatalf("no decoder for %s", name)
			}
			if err := dec(b); err != nil {
				t.Fatalf("decode: %v", err)
			}
			covered[schemaName] = true
		})
	}
	for _, s := range schemas {
		n := strings.TrimSuffix(filepath.Base(s), ".schema.json")
		if !covered[n] {
			t.Errorf("schema %s has no example", n)
		}
	}
	// The validator rejects what it should.
	var schema any
	sb, _ := os.ReadFile("../doc/schemas/update-request.schema.json")
	json.Unmarshal(sb, &schema)
	for _, bad := range []string{`{}`, `{"updates":[],"time":"x","signature":"1"}`, `{"updates":[{"name":"refs/remotes/x","old":"00","new":"11"}],"time":"2025-01-01T00:00:00Z","signature":"` + strings.Repeat("1", 70) + `"}`} {
		var doc any
		json.Unmarshal([]byte(bad), &doc)
		if errs := validate(schema.(map[string]any), schema.(map[string]any), doc, "$"); len(errs) == 0 {
			t.Errorf("schema accepts %s", bad)
		}
	}
}

// validate checks doc against the subset of JSON Schema our schemas use:
// type, const, enum, properties, additionalProperties, propertyNames,
// required, items, pattern, minItems,
// maxItems, minLength, maxLength, minimum, maximum and local $refs.
func validate(root, s map[string]any, doc any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		return validate(root, root["$defs"].(map[string]any)[name].(map[string]any), doc, at)
	}
	var errs []string
	bad := func(format string, args ...any) {
		errs = append(errs, at+": "+sprintf(format, args...))
	}
	if ty, ok := s["type"].(string); ok && !hasType(doc, ty) {
		bad("want %s, got %T", ty, doc)
		return errs
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, doc) {
		bad("want %v", c)
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, v := range e {
			found = found || jsonEqual(v, doc)
		}
		if !found {
			bad("%v not in enum", doc)
		}
	}
	switch d := doc.(type) {
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := d[r.(string)]; !ok {
				bad("missing %s", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, v := range d {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, validate(root, ps, v, at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("member %q not allowed", k)
				}
			case map[string]any:
				errs = append(errs, validate(root, ap, v, at+"."+k)...)
			}
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				errs = append(errs, validate(root, pn, k, at+" name "+k)...)
			}
		}
	case []any:
		if n, ok := s["minItems"].(float64); ok && float64(len(d)) < n {
			bad("%d items, at least %v", len(d), n)
		}
		if n, ok := s["maxItems"].(float64); ok && float64(len(d)) > n {
			bad("%d items, at most %v", len(d), n)
		}
		if it, ok := s["items"].(map[string]any); ok {
			for i, v := range d {
				errs = append(errs, validate(root, it, v, sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(d) {
			bad("%q does not match %s", d, p)
		}
		if n, ok := s["minLength"].(float64); ok && float64(len(d)) < n {
			bad("shorter than %v", n)
		}
		if n, ok := s["maxLength"].(float64); ok && float64(len(d)) > n {
			bad("longer than %v", n)
		}
	case float64:
		if n, ok := s["minimum"].(float64); ok && d < n {
			bad("%v below %v", d, n)
		}
		if n, ok := s["maximum"].(float64); ok && d > n {
			bad("%v above %v", d, n)
		}
	}
	return errs
}

func hasType(doc any, ty string) bool {
	switch ty {
	case "object":
		_, ok := doc.(map[string]any)
		return ok
	case "array":
		_, ok := doc.([]any)
		return ok
	case "string":
		_, ok := doc.(string)
		return ok
	case "boolean":
		_, ok := doc.(bool)
		return ok
	case "integer":
		f, ok := doc.(float64)
		return ok && f == float64(int64(f))
	case "number":
		_, ok := doc.(float64)
		return ok
	}
	return false
}

func asList(v any) []any { l, _ := v.([]any); return l }

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
