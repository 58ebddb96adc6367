package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repometa/repometatest"
)

// TestLeases: the leases of one repository in fed_leases, by the
// database's clock. A lease of an id twice in one request is one row; a
// shorter lease does not cut a longer one; a sweep spares live leases
// only and says how many; expired rows are remembered (Leased) until
// Forget drops them; another repository's leases are its own.
func TestLeases(t *testing.T) {
	ctx := context.Background()
	db := open(t, testpg.DB(t))
	r, _, err := db.CreateRepo(ctx, "o/leased", repometatest.Initial())
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := db.CreateRepo(ctx, "o/other", repometatest.Initial())
	if err != nil {
		t.Fatal(err)
	}
	lz := r.Refs().(server.Leases)
	a, b, c := objects.Sum([]byte("a")), objects.Sum([]byte("b")), objects.Sum([]byte("c"))
	if err := lz.Lease(ctx, []objects.ID{a, b, a}, time.Hour); err != nil {
		t.Fatalf("a lease naming an id twice: %v", err)
	}
	if err := lz.Lease(ctx, []objects.ID{a, c}, time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	if err := other.Refs().(server.Leases).Lease(ctx, []objects.ID{c}, time.Hour); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Rows(ctx, "(SELECT count(*) FROM fed_leases)")
	if err != nil || len(rows) != 1 || rows[0] != "(4)" {
		t.Fatalf("rows of fed_leases: %v, %v; want 4 (a, b, c here, c there)", rows, err)
	}
	time.Sleep(10 * time.Millisecond) // c's lease here runs out
	var victims []objects.ID
	spared, err := lz.Sweep(ctx, []objects.ID{a, b, c}, func(ctx context.Context, current []refs.Ref, v []objects.ID) error {
		victims = v
		return nil
	})
	if err != nil || spared != 2 || len(victims) != 1 || victims[0] != c {
		t.Fatalf("sweep: spared %d, victims %v, %v; want a and b spared (a's hour kept), c a victim", spared, victims, err)
	}
	if rows, err := db.Rows(ctx, "(SELECT sweeping FROM fed_repos WHERE name = 'o/leased')"); err != nil || rows[0] != "(f)" {
		t.Fatalf("sweeping after a sweep: %v, %v", rows, err)
	}
	leased, err := lz.Leased(ctx, []objects.ID{a, c, objects.Sum([]byte("never"))})
	if err != nil || len(leased) != 2 || !leased[a] || !leased[c] {
		t.Fatalf("Leased: %v, %v; want a (live) and c (expired)", leased, err)
	}
	if err := lz.Forget(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if leased, err := lz.Leased(ctx, []objects.ID{a, c}); err != nil || len(leased) != 1 || !leased[a] {
		t.Fatalf("Leased after Forget: %v, %v; want a only", leased, err)
	}
	if leased, err := other.Refs().(server.Leases).Leased(ctx, []objects.ID{c}); err != nil || !leased[c] {
		t.Fatalf("the other repository's lease: %v, %v", leased, err)
	}
	// a sweep whose deletions failed still marks itself done
	_, err = lz.Sweep(ctx, []objects.ID{c}, func(context.Context, []refs.Ref, []objects.ID) error {
		return context.DeadlineExceeded
	})
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("a failed sweep: %v", err)
	}
	if rows, err := db.Rows(ctx, "(SELECT sweeping FROM fed_repos WHERE name = 'o/leased')"); err != nil || rows[0] != "(f)" {
		t.Fatalf("sweeping after a failed sweep: %v, %v", rows, err)
	}
}
