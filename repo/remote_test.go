package repo

import (
	"errors"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

func TestRemoteConfig(t *testing.T) {
	r := newTestRepo(t)
	if err := r.RemoteAdd("origin", "http://127.0.0.1:1/a/b"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, url string }{
		{"origin", "http://127.0.0.1:1/a/c"}, // exists
		{"bad/name", "http://127.0.0.1:1/a/c"},
		{"x", "ftp://host/a"},
		{"y", "http://host/../etc"},
		{"z", "http://host/.hidden"},
	} {
		if err := r.RemoteAdd(tc.name, tc.url); err == nil {
			t.Errorf("RemoteAdd(%q, %q) succeeded", tc.name, tc.url)
		}
	}
	r2, err := Open(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := r2.Remotes()
	if len(rs) != 1 || rs[0] != (Remote{"origin", "http://127.0.0.1:1/a/b"}) {
		t.Fatalf("remotes after reopen: %v", rs)
	}
	r2.Refs.Update(refs.Remote("origin", "main"), objects.ZeroID, objects.Sum([]byte("x")), refs.Entry{})
	if err := r2.RemoteRemove("origin"); err != nil {
		t.Fatal(err)
	}
	if rs, _ := r2.Remotes(); len(rs) != 0 {
		t.Fatalf("remotes after remove: %v", rs)
	}
	if l, _ := r2.Refs.List(refs.RemotesPrefix); len(l) != 0 {
		t.Fatalf("tracking refs left: %v", l)
	}
	if err := r2.RemoteRemove("origin"); !errors.Is(err, ErrNoRemote) {
		t.Fatalf("removing twice: %v", err)
	}
}
