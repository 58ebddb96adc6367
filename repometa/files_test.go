package repometa_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repometa"
	"github.com/fed-vcs/fed/repometa/repometatest"
)

// jsonZK keeps zk settings in a JSON file, standing in for the config file
// of package repo.
type jsonZK struct{}

func (jsonZK) ReadZK(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "zk.json"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	m := map[string]string{}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	return m, err
}

func (z jsonZK) WriteZK(dir string, set map[string]string) error {
	cur, err := z.ReadZK(dir)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(repometa.ApplyZK(cur, set))
	return os.WriteFile(filepath.Join(dir, "zk.json"), b, 0o644)
}

func TestFilesConform(t *testing.T) {
	for _, zk := range []repometa.ZKFile{jsonZK{}, nil} {
		var dir string
		repometatest.Run(t, func(t *testing.T, initial repometa.Settings) repometa.Store {
			dir = t.TempDir()
			if err := repometa.CreateFiles(dir, initial); err != nil {
				t.Fatal(err)
			}
			f, err := repometa.OpenFiles(dir, zk)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, repometatest.Options{
			NoZK: zk == nil,
			Reopen: func(t *testing.T) repometa.Store {
				f, err := repometa.OpenFiles(dir, zk)
				if err != nil {
					t.Fatal(err)
				}
				return f
			},
		})
	}
}

// The bytes of fed-repo.json and of the id lists (doc/design.md).
func TestFilesBytes(t *testing.T) {
	dir := t.TempDir()
	s := repometa.Settings{Owner: "Own", Public: true, Protected: []string{"refs/heads/main"},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	if err := repometa.CreateFiles(dir, s); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"version\": 1,\n  \"owner\": \"Own\",\n  \"public\": true,\n  \"protected\": [\n    \"refs/heads/main\"\n  ],\n" +
		"  \"collaborators\": [],\n  \"created\": \"2026-01-02T03:04:05.000006Z\"\n}\n"
	if b, _ := os.ReadFile(filepath.Join(dir, "fed-repo.json")); string(b) != want {
		t.Fatalf("fed-repo.json:\n%s\nwant:\n%s", b, want)
	}
	f, err := repometa.OpenFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.UpdateSettings(t.Context(), func(m *repometa.Settings) error { m.NFT = "Mint"; return nil }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "fed-repo.json")); !strings.HasSuffix(string(b), "\"created\": \"2026-01-02T03:04:05.000006Z\",\n  \"nft\": \"Mint\"\n}\n") {
		t.Fatalf("fed-repo.json with an NFT:\n%s", b)
	}
	a, b := objects.Sum([]byte("a")), objects.Sum([]byte("b"))
	if err := f.AddIDs(t.Context(), repometa.Withheld, []objects.ID{a, b, a}); err != nil {
		t.Fatal(err)
	}
	if err := f.AppendPushLog(t.Context(), []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "withheld")); string(got) != a.String()+"\n"+b.String()+"\n" {
		t.Fatalf("withheld file: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "push.log")); string(got) != "{\"x\":1}\n" {
		t.Fatalf("push.log: %q", got)
	}
}

func TestFilesRefuse(t *testing.T) {
	dir := t.TempDir()
	if _, err := repometa.OpenFiles(dir, nil); !errors.Is(err, repometa.ErrNotFound) {
		t.Fatalf("OpenFiles of a directory without settings: %v, want ErrNotFound", err)
	}
	os.WriteFile(filepath.Join(dir, "fed-repo.json"), []byte(`{"version": 2}`), 0o644)
	if _, err := repometa.OpenFiles(dir, nil); err == nil || !strings.Contains(err.Error(), "settings version 2, this fed reads 1 (a newer fed release is needed)") {
		t.Fatalf("OpenFiles of settings version 2: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "fed-repo.json"), []byte(`{"version": 1`), 0o644)
	if _, err := repometa.OpenFiles(dir, nil); err == nil || !strings.Contains(err.Error(), "fed-repo.json") {
		t.Fatalf("OpenFiles of a cut settings file: %v, want an error naming it", err)
	}
}

// A line cut by a crash is skipped; the ids around it are kept, and the
// next append starts a line of its own.
func TestFilesTornIDLine(t *testing.T) {
	dir := t.TempDir()
	if err := repometa.CreateFiles(dir, repometa.Settings{Owner: "Own"}); err != nil {
		t.Fatal(err)
	}
	a, b := objects.Sum([]byte("a")), objects.Sum([]byte("b"))
	os.WriteFile(filepath.Join(dir, "private"), []byte(a.String()+"\n"+b.String()[:20]), 0o644)
	f, err := repometa.OpenFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.IDs(t.Context(), repometa.Private)
	if err != nil || !maps.Equal(m, map[objects.ID]bool{a: true}) {
		t.Fatalf("IDs with a torn line = %v, %v", m, err)
	}
	// the next append does not run into the torn line
	c := objects.Sum([]byte("c"))
	if err := f.AddIDs(t.Context(), repometa.Private, []objects.ID{c}); err != nil {
		t.Fatal(err)
	}
	f, err = repometa.OpenFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := f.IDs(t.Context(), repometa.Private); err != nil || !maps.Equal(m, map[objects.ID]bool{a: true, c: true}) {
		t.Fatalf("IDs appended after a torn line, reopened = %v, %v", m, err)
	}
	// the same for the push log
	os.WriteFile(filepath.Join(dir, "push.log"), []byte("{\"n\":1}\n{\"n\":"), 0o644)
	if err := f.AppendPushLog(t.Context(), []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	l, err := f.PushLog(t.Context())
	if err != nil || len(l) != 3 || string(l[0]) != `{"n":1}` || string(l[2]) != `{"n":2}` {
		t.Fatalf("push log appended after a torn entry = %q, %v", l, err)
	}
}
