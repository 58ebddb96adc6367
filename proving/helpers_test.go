package proving

import (
	"bytes"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// newTestRepo makes a repository with a signing key and a clock that
// moves a minute per commit.
func newTestRepo(t testing.TB) *repo.Repo {
	t.Helper()
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	return r
}
