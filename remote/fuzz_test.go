package remote_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

func FuzzFrameReader(f *testing.F) {
	var sv streamVector
	if b, err := os.ReadFile(filepath.Join(vectorDir, "objects-stream.json")); err == nil && json.Unmarshal(b, &sv) == nil {
		s, _ := hex.DecodeString(sv.StreamHex)
		f.Add(s)
		f.Add(s[:len(s)-3])
	}
	f.Add([]byte("FEDOBJ\x00\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := remote.NewFrameReader(bytes.NewReader(data), 1<<16)
		var frames []remote.Frame
		for {
			fm, err := fr.Next(nil)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
			frames = append(frames, fm)
		}
		// A complete stream re-encodes to itself.
		var buf bytes.Buffer
		fw := remote.NewFrameWriter(&buf)
		for _, fm := range frames {
			if err := fw.WriteFrame(fm.ID, fm.Form, fm.Payload); err != nil {
				t.Fatal(err)
			}
		}
		fw.Close()
		if !bytes.HasPrefix(data, buf.Bytes()) {
			t.Fatalf("re-encoding a decoded stream differs")
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(vectorDir, "examples", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"updates":[{"name":"refs/heads/a","old":"` + strings.Repeat("0", 64) + `","new":"` + strings.Repeat("1", 64) + `"}],"time":"2025-01-01T00:00:00Z","signature":"1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dec := range decoders {
			dec(data) // must not panic
		}
		// What decodes re-encodes to something that decodes the same.
		if v, err := remote.UnmarshalJSON[remote.UpdateRequest](data); err == nil {
			b, _ := json.Marshal(v)
			w, err := remote.UnmarshalJSON[remote.UpdateRequest](b)
			if err != nil || !reflect.DeepEqual(v.Updates, w.Updates) || !v.Time.Equal(w.Time) || v.Signature != w.Signature {
				t.Fatalf("update request round trip: %v", err)
			}
		}
		if v, err := remote.UnmarshalJSON[remote.PlanRequest](data); err == nil {
			b, _ := json.Marshal(v)
			w, err := remote.UnmarshalJSON[remote.PlanRequest](b)
			// an empty "have" list and an absent one mean the same
			if err != nil || !slices.Equal(v.Want, w.Want) || !slices.Equal(v.Have, w.Have) || !slices.Equal(v.Shallow, w.Shallow) || v.Depth != w.Depth {
				t.Fatalf("plan request round trip: %v", err)
			}
		}
		if v, err := remote.UnmarshalJSON[remote.LoginRequest](data); err == nil {
			if _, err := remote.DecodeSignature(v.Signature); err != nil {
				t.Fatalf("login request with a bad signature accepted: %v", err)
			}
		}
	})
}

func FuzzSignInMessage(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(vectorDir, "login-message.txt")); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := remote.ParseSignInMessage(s)
		if err == nil && m.String() != s {
			t.Fatalf("parsed message re-encodes differently")
		}
	})
}

func FuzzRepoName(f *testing.F) {
	for _, s := range []string{"alice/model", "../x", "a/./b", "a\\b", "a\x00b", ".git", "x.fed/y", "-", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if remote.ValidateRepoName(s) != nil {
			return
		}
		if filepath.IsAbs(s) || strings.Contains(s, "..") && strings.Contains("/"+s+"/", "/../") || strings.ContainsAny(s, "\\\x00") {
			t.Fatalf("unsafe name %q accepted", s)
		}
		for _, part := range strings.Split(s, "/") {
			if part == "" || part[0] == '.' || strings.HasSuffix(part, ".fed") {
				t.Fatalf("unsafe component %q of %q accepted", part, s)
			}
		}
		name, ep, ok := remote.SplitRepoPath(strings.TrimPrefix(remote.RepoPath(s, "refs"), remote.PathPrefix+"repos/"))
		if !ok || name != s || ep != "refs" {
			t.Fatalf("repo path of %q splits into %q %q", s, name, ep)
		}
	})
}

// FuzzSettingsCommit: any object bytes either fail ParseSettingsCommit or
// are a settings commit that NewSettingsCommit rebuilds from what it read.
func FuzzSettingsCommit(f *testing.F) {
	if b, err := os.ReadFile("../doc/vectors/settings-commit.json"); err == nil {
		var v struct {
			CommitHex string `json:"commit_hex"`
		}
		if json.Unmarshal(b, &v) == nil {
			if raw, err := hex.DecodeString(v.CommitHex); err == nil {
				f.Add(raw)
			}
		}
	}
	_, tree := remote.EmptyTree()
	f.Add(tree)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := objects.Decode(b)
		if err != nil {
			return
		}
		c, ok := o.(*objects.Commit)
		if !ok {
			return
		}
		zk, err := remote.ParseSettingsCommit(c)
		if err != nil {
			return
		}
		var parent objects.ID
		if len(c.Parents) == 1 {
			parent = c.Parents[0]
		}
		again := remote.NewSettingsCommit(zk, parent, c.Time)
		again.Author, again.TZ, again.Signature = c.Author, c.TZ, c.Signature
		b2, err := objects.Encode(again)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("settings commit does not round-trip: %v\n%x\n%x", err, b, b2)
		}
	})
}
